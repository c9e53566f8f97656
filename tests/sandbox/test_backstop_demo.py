"""`failover demo --scenario backstop` end to end: Route 53's API refuses writes, health checks act."""

from __future__ import annotations

import re

import pytest

from tests.e2e_support import cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(120)
def test_a_region_fails_while_route53_refuses_writes_and_dns_leaves_it_out_all_the_same() -> None:
    r = cli("demo", "--scenario", "backstop", timeout=110)
    out = r.stdout
    assert r.returncode == 0, out[-4000:] + r.stderr[-2000:]
    assert re.search(r"OK: all \d+ expectations held", out)
    for step in (
        "PASS  `failover backstop apply` arms every set",
        "PASS  the daemon reports it cannot write",
        "PASS  eu-west-1's alarm fires (ALARM)",
        "PASS  eu-west-1's health check turns unhealthy",
        "PASS  Route 53 still holds 100 for eu-west-1: no write landed",
        "PASS  DNS stops naming eu-west-1",
        "PASS  edge router stops sending requests to eu-west-1",
        "PASS  eu-west-1 never came back into DNS across the handover",
    ):
        assert step in out, step
    # The order is the point: the health check acts before any write could land.
    assert out.index("turns unhealthy") < out.index("the daemon's write lands")
    took, bound = map(
        float,
        re.findall(r"unhealthy \(DNS excludes eu-west-1\) (\d+\.\d+)s; .* = (\d+\.\d+)s", out)[0],
    )
    assert 0 < took <= bound
