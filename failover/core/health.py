"""Pure per-origin health state machine: fast down, slow up, hold-down that grows on flapping."""

from __future__ import annotations

from dataclasses import replace

from failover.core import events, evidence
from failover.core.events import Event
from failover.model import Health, HealthSettings, Origin, Outcome, ProbeResult, State

MAX_FLAPS = 32  # 2**32 times any sane hold-down is far past any cap


def initial(applied_fraction: float | None, settings: HealthSettings, now: float) -> Health:
    """Health of an origin when the daemon starts, resumed from what Route 53 holds.

    The state stays unknown until probes give evidence. What is applied seeds the
    memory that evidence alone cannot give back after a restart: an origin that
    Route 53 holds at 0 was taken out, so its hold-down runs from now; one held
    part-way up resumes its slow start from that fraction.
    """
    if applied_fraction is None or applied_fraction >= 1.0:
        return Health()
    if applied_fraction <= 0.0:
        return Health(down_since=now, hold_down=settings.hold_down)
    return Health(up_since=now - applied_fraction * settings.slow_start)


def observe(
    origin: Origin,
    h: Health | None,
    applied_fraction: float | None,
    result: ProbeResult,
    now: float,
    *,
    blind: bool,
) -> tuple[Health, list[Event]]:
    """One origin's health after one probe, and what to say about it.

    A first probe starts from what Route 53 holds (`applied_fraction`, see `initial`).
    In a blind round (no probe of any origin gave evidence) a failure says something
    about our network, nothing about this origin: it is reported, not counted. A probe
    refused for the daemon's own fault (credentials, clock) is never counted either way.
    """
    if h is None:
        h = initial(applied_fraction, origin.health, now)
    if not evidence.evidence(result):
        # Not stale: while one origin's probes are refused for the daemon's own fault,
        # the others still give evidence, writes go on, and its verdict was written.
        return h, [
            events.warning(
                "probe_credentials_failed",
                pool=origin.pool,
                origin=origin.id,
                region=origin.region,
                status=result.status,
                detail=result.detail,
                skew=None if result.skew is None else round(result.skew, 1),
            )
        ]
    said: list[Event] = []
    if not result.outcome.healthy:
        said.append(
            events.info(
                "probe_failed",
                pool=origin.pool,
                origin=origin.id,
                outcome=result.outcome.value,
                status=result.status,
                detail=result.detail,
                latency=round(result.latency, 4),
                failures=h.failures + (0 if blind else 1),
                counted=not blind,
            )
        )
    if blind:
        return replace(h, stale=True), said
    new = step(h, result.outcome, now, origin.health)
    if new.state is not h.state:
        said.append(
            events.warning(
                "origin_marked_down" if new.state is State.DOWN else "origin_marked_up",
                pool=origin.pool,
                origin=origin.id,
                region=origin.region,
                outcome=result.outcome.value,
                was=h.state.value,
                to=new.state.value,
                hold_down=new.hold_down if new.state is State.DOWN else None,
                flaps=new.flaps,
            )
        )
    return new, said


def gone_stale(h: Health) -> Health:
    """A down verdict on evidence that is no longer current (a blind spell, a gap in
    probing): it lowers nothing more, and counts as no vote, until a failure seen since."""
    if h.state is State.DOWN and not h.stale:
        return replace(h, stale=True)
    return h


def step(h: Health, outcome: Outcome, now: float, settings: HealthSettings) -> Health:
    """Advance one origin's health by one probe outcome observed at `now`."""
    if outcome.healthy:
        h = replace(h, successes=h.successes + 1, failures=0, last_outcome=outcome)
        if h.state is not State.UP and h.successes >= settings.rise and held_down_until(h) <= now:
            return _mark_up(h, now)
        return h
    # A failure seen now confirms (or starts) a down verdict: it is fresh again.
    h = replace(h, failures=h.failures + 1, successes=0, last_outcome=outcome, stale=False)
    if h.state is not State.DOWN and h.failures >= settings.fall:
        return _mark_down(h, now, settings)
    return h


def held_down_until(h: Health) -> float:
    """The earliest time this origin may come back; -inf when nothing holds it."""
    if h.down_since is None:
        return float("-inf")
    return h.down_since + h.hold_down


def _mark_up(h: Health, now: float) -> Health:
    # From unknown, an origin was (as far as we know) in service before we started:
    # no slow start unless one was resumed from Route 53's weights. An origin that
    # Route 53 held at 0 comes back the way any down origin does.
    resumed = h.state is State.UNKNOWN and h.down_since is None
    up_since = h.up_since if resumed else now
    return replace(h, state=State.UP, up_since=up_since, stale=False)


def _mark_down(h: Health, now: float, settings: HealthSettings) -> Health:
    # Flapping: going down again within the longest hold-down of the last time it
    # came up counts as a flap, and each flap doubles the hold-down, up to the cap.
    quick = h.up_since is not None and now - h.up_since < settings.hold_down_max
    # Past the cap more flaps change nothing, so the count stops there (and 2**flaps
    # never grows into a float overflow after days of flapping).
    flaps = min(h.flaps + 1, MAX_FLAPS) if quick and h.down_since is not None else 0
    cap = max(settings.hold_down_max, settings.hold_down)
    hold = min(settings.hold_down * (2**flaps), cap)
    return replace(h, state=State.DOWN, down_since=now, up_since=None, flaps=flaps, hold_down=hold)


def slow_start_fraction(h: Health, settings: HealthSettings, now: float) -> float:
    """Share of the configured weight an up origin gets while it ramps back, in quarter steps."""
    if h.state is not State.UP or h.up_since is None or settings.slow_start <= 0:
        return 1.0
    elapsed = now - h.up_since
    if elapsed >= settings.slow_start:
        return 1.0
    quarters = int(4 * max(elapsed, 0.0) / settings.slow_start) + 1
    return min(quarters / 4, 1.0)
