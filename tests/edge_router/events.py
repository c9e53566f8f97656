"""Origin-request events shaped like AWS's documented example, with an S3 origin."""

from __future__ import annotations

import copy
from typing import Any

# The documented origin-request example (CloudFront Developer Guide, "Lambda@Edge event
# structure"), with its origin replaced by an S3 origin carrying the documented fields.
DOCUMENTED: dict[str, Any] = {
    "Records": [
        {
            "cf": {
                "config": {
                    "distributionDomainName": "d111111abcdef8.cloudfront.net",
                    "distributionId": "EDFDVBD6EXAMPLE",
                    "eventType": "origin-request",
                    "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
                },
                "request": {
                    "clientIp": "203.0.113.178",
                    "headers": {
                        "x-forwarded-for": [{"key": "X-Forwarded-For", "value": "203.0.113.178"}],
                        "user-agent": [{"key": "User-Agent", "value": "Amazon CloudFront"}],
                        "via": [
                            {
                                "key": "Via",
                                "value": "2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net "
                                "(CloudFront)",
                            }
                        ],
                        "host": [
                            {"key": "Host", "value": "www-primary.s3.eu-central-1.amazonaws.com"}
                        ],
                        "cache-control": [{"key": "Cache-Control", "value": "no-cache"}],
                    },
                    "method": "GET",
                    "origin": {
                        "s3": {
                            "authMethod": "origin-access-identity",
                            "customHeaders": {
                                "x-dns-origin": [
                                    {"key": "X-DNS-ORIGIN", "value": "origin.example.com"}
                                ]
                            },
                            "domainName": "www-primary.s3.eu-central-1.amazonaws.com",
                            "path": "",
                            "region": "eu-central-1",
                        }
                    },
                    "querystring": "",
                    "uri": "/index.html",
                },
            }
        }
    ]
}


def s3_event(
    name: str | None = "origin.example.com", allow: str | None = None, **s3: Any
) -> dict[str, Any]:
    """A fresh copy of the documented event; `name` None drops the x-dns-origin header."""
    event = copy.deepcopy(DOCUMENTED)
    origin = request_of(event)["origin"]["s3"]
    custom = origin["customHeaders"]
    if name is None:
        del custom["x-dns-origin"]
    else:
        custom["x-dns-origin"][0]["value"] = name
    if allow is not None:
        custom["x-dns-origin-allow"] = [{"key": "X-DNS-ORIGIN-ALLOW", "value": allow}]
    origin.update(s3)
    return event


def custom_origin_event(name: str = "origin.example.com") -> dict[str, Any]:
    """The documented event with a custom (non-S3) origin that carries the header anyway."""
    event = copy.deepcopy(DOCUMENTED)
    request_of(event)["origin"] = {
        "custom": {
            "customHeaders": {"x-dns-origin": [{"key": "X-DNS-ORIGIN", "value": name}]},
            "domainName": "example.org",
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }
    }
    return event


def request_of(event: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    return request
