"""Log set-up: every record, ours or a library's, as one JSON line (or a readable console line)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# Libraries (botocore, urllib3…) speak from this level up; below it
# they are chatty enough to drown our own events.
FOREIGN_LEVEL = logging.WARNING

_handler: logging.Handler | None = None  # the one root handler this module installed
# Fields every line of the process carries once set (cluster mode: replica, epoch),
# from whichever thread logs: lanes run on threads of their own.
_process: dict[str, object] = {}


def bind_process(**fields: object) -> None:
    """Add `fields` to every log line from now on, whatever thread logs it."""
    _process.update(fields)


def _add_process(
    _: object, __: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for k, v in _process.items():
        event.setdefault(k, v)
    return event


def configure(fmt: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr by default), rendered one way.

    structlog events and the standard library's records (any library's logger, and
    `warnings` captured into logging) all go through a single root handler whose
    formatter runs structlog's processors, so in JSON mode every line parses. Calling
    it again replaces that handler: a reload never duplicates output.
    """
    global _handler  # noqa: PLW0603 - one handler per process, replaced on reload
    out = stream or sys.stderr
    threshold = LEVELS.get(level, logging.INFO)
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    stamped: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    tail: list[structlog.typing.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    ]
    if console:
        tail.append(structlog.dev.ConsoleRenderer(colors=out.isatty()))
    else:
        tail += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Records from other libraries: which one spoke, at what level and when.
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=tail,
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_process,
            *stamped,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    root.addHandler(handler)
    _handler = handler
    root.setLevel(max(threshold, FOREIGN_LEVEL))
    # Our own loggers (failover, failover.route53…) pass what structlog let through.
    logging.getLogger("failover").setLevel(threshold)
    logging.captureWarnings(True)


def reset() -> None:
    """Remove the root handler `configure` installed and stop capturing warnings."""
    global _handler  # noqa: PLW0603 - see configure
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("failover").setLevel(logging.NOTSET)
    logging.captureWarnings(False)
    structlog.reset_defaults()
