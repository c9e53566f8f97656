"""What CloudFront accepts back from an origin-request function, from AWS's documented rules.

Written independently of `edge_router`: it checks a returned request against the one that
went in, and lists every rule broken.
"""

from __future__ import annotations

import copy
import re
from typing import Any

# The documented limits on an S3 origin set by a function.
MAX_DOMAIN = 128
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]{2,9})+-[0-9]{1,2}")
# Fields a function may change when it switches an S3 origin's bucket.
MUTABLE_S3 = ("domainName", "region")


def _host(request: dict[str, Any]) -> object:
    try:
        return request["headers"]["host"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None


def problems(before: dict[str, Any], after: object) -> list[str]:
    """Every rule the returned request `after` breaks, given the request that went in."""
    if not isinstance(after, dict):
        return [f"returned {type(after).__name__}, not a request object"]
    found: list[str] = []
    origin = after.get("origin")
    if not isinstance(origin, dict) or len(origin) != 1:
        return ["origin must hold exactly one of s3 or custom"]
    s3 = origin.get("s3")
    old_s3 = before.get("origin", {}).get("s3")
    if isinstance(s3, dict) and isinstance(old_s3, dict):
        domain = s3.get("domainName")
        if not isinstance(domain, str) or domain != domain.lower():
            found.append(f"origin.s3.domainName must be lowercase, got {domain!r}")
        elif len(domain) > MAX_DOMAIN:
            found.append(f"origin.s3.domainName longer than {MAX_DOMAIN}")
        region = s3.get("region")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            found.append(f"origin.s3.region is not a region: {region!r}")
        path = s3.get("path")
        if not isinstance(path, str) or (path and (path[0] != "/" or path.endswith("/"))):
            found.append(f"origin.s3.path must be empty or /… without a trailing /: {path!r}")
        found.extend(
            f"origin.s3.{key} changed"
            for key in ("authMethod", "customHeaders", "path")
            if s3.get(key) != old_s3.get(key)
        )
        if set(s3) != set(old_s3):
            found.append("origin.s3 gained or lost fields")
        moved = any(s3.get(k) != old_s3.get(k) for k in MUTABLE_S3)
        if moved and _host(after) != domain:
            found.append("host header does not equal origin.s3.domainName")
        custom = s3.get("customHeaders")
        headers = after.get("headers")
        if isinstance(custom, dict) and isinstance(headers, dict):
            found.extend(
                f"custom header {name!r} also in request.headers"
                for name in custom
                if name in headers and name not in before.get("headers", {})
            )
    # Everything else exactly as it came in: read-only headers (via, x-forwarded-for, …),
    # method, uri, querystring, clientIp, the custom origin.
    rest_before, rest_after = copy.deepcopy(before), copy.deepcopy(after)
    for req in (rest_before, rest_after):
        s3_part = req.get("origin", {}).get("s3")
        if isinstance(s3_part, dict):
            for key in MUTABLE_S3:
                s3_part.pop(key, None)
        if isinstance(req.get("headers"), dict):
            req["headers"].pop("host", None)
    if rest_before != rest_after:
        changed = sorted(
            k for k in set(rest_before) | set(rest_after) if rest_before.get(k) != rest_after.get(k)
        )
        found.append(f"read-only parts changed: {', '.join(changed)}")
    old_host, new_host = _host(before), _host(after)
    if old_host != new_host and (not isinstance(s3, dict) or new_host != s3.get("domainName")):
        found.append("host header changed without the origin")
    return found
