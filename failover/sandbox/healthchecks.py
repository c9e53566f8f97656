"""Make moto's Route 53 keep what a CLOUDWATCH_METRIC health check is: its alarm, and what no data means.

moto (5.x) accepts ``CreateHealthCheck`` of type ``CLOUDWATCH_METRIC`` but drops
``AlarmIdentifier`` and ``InsufficientDataHealthStatus``, and creates a second check for
a repeated ``CallerReference``. Route 53 keeps both fields and, for a repeated
reference, AWS: "If you send a CreateHealthCheck request with the same CallerReference
and settings as a previous request, [...] Route 53 doesn't create another health check"
(Route 53 API Reference, CreateHealthCheck; "unconfirmed" for the exact wording).
``install()`` patches moto's classes in place (in-process, and in a ThreadedMotoServer
started in this process) so `failover backstop` and the sandbox's evaluator read them
back; ``uninstall()`` restores moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses

_LOCK = threading.RLock()
_originals: dict[str, Any] = {}


def _config(self: Any) -> dict[str, Any]:
    config: dict[str, Any] = _originals["health_check_config"].fget(self)
    if config.get("Type") == "CLOUDWATCH_METRIC":
        for k in ("IPAddress", "Port", "RequestInterval", "FailureThreshold", "MeasureLatency"):
            config.pop(k, None)
        config["AlarmIdentifier"] = getattr(self, "alarm_identifier", None)
        config["InsufficientDataHealthStatus"] = getattr(
            self, "insufficient_data_health_status", None
        )
    return config


def _create(original: Callable[[Any], ActionResult]) -> Callable[[Any], ActionResult]:
    def create_health_check(self: Any) -> ActionResult:
        reference = self._get_param("CallerReference")
        config = self._get_param("HealthCheckConfig") or {}
        with _LOCK:
            for existing in self.backend.health_checks.values():
                if existing.caller_reference == reference:
                    return ActionResult({"HealthCheck": existing})
            result = original(self)
            for check in self.backend.health_checks.values():
                if check.caller_reference == reference:
                    check.alarm_identifier = config.get("AlarmIdentifier")
                    check.insufficient_data_health_status = config.get(
                        "InsufficientDataHealthStatus"
                    )
        return result

    return create_health_check


def install() -> None:
    """Patch moto (idempotent)."""
    with _LOCK:
        if _originals:
            return
        _originals["health_check_config"] = r53_models.HealthCheck.health_check_config
        _originals["create_health_check"] = r53_responses.Route53.create_health_check
        r53_models.HealthCheck.health_check_config = property(_config)  # type: ignore[method-assign,assignment]
        r53_responses.Route53.create_health_check = _create(  # type: ignore[method-assign,assignment]
            _originals["create_health_check"]
        )


def uninstall() -> None:
    with _LOCK:
        if not _originals:
            return
        r53_models.HealthCheck.health_check_config = _originals.pop("health_check_config")  # type: ignore[method-assign]
        r53_responses.Route53.create_health_check = _originals.pop("create_health_check")  # type: ignore[method-assign]
