"""The oracle's take-over invariant: traffic never stays on dead origins a live one could take."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from failover.model import Action, Config, Origin, OriginKey, Override, quote_txt
from failover.sim.route53 import FakeRoute53, fqdn

if TYPE_CHECKING:
    from failover.sim.oracle import Track


def _live(tracks: Mapping[OriginKey, Track], o: Origin, now: float, interval: float) -> bool:
    """Answering long enough for any daemon to hold it up: more than `rise` healthy probes
    since this daemon started (none of them in a blind round), and no failure within the
    longest hold-down, a slow start and `rise` rounds. A standby still held down or
    ramping, or one seen failing lately, is not yet one that could take over."""
    t = tracks[o.key]
    h = o.health
    settle = h.hold_down_max + h.slow_start + (h.rise + 2) * interval
    recent = t.last_failure is not None and now - t.last_failure <= settle
    return t.streak == 0 and t.ok > h.rise and not recent


@dataclass
class Takeover:
    """Once every owned set of a pool carrying weight has failed `fall` counted probes, a
    live origin at 0 (a standby included, not drained) or a foreign set that counts as
    serving (naming only live origins' buckets, or trusted) means that within a write
    cycle the pool no longer rests on the dead ones alone."""

    config: Config
    r53: FakeRoute53
    write_cycle: float
    dead_since: dict[str, float] = field(default_factory=dict)  # pool: resting on dead ones

    def check(
        self,
        tracks: Mapping[OriginKey, Track],
        overrides: Mapping[OriginKey, Override],
        now: float,
        exempt: bool,
        unread: frozenset[str],
    ) -> list[str]:
        """What breaks the invariant this round, one line per pool (reported once per episode).

        Not judged while the round is exempt (frozen, dry-run, Route 53 in trouble, the
        overrides never read), while a human change is unread, before the pool's record
        was read, or while any origin of the pool is pinned (a pin outranks health).
        """
        interval = self.config.daemon.interval
        out: list[str] = []
        for pool in self.config.pools:
            record = fqdn(pool.record)
            sets = {
                k[2]: rr
                for k, rr in self.r53.sets(pool.zone_id).items()
                if k[:2] == (record, "TXT") and rr.get("Weight") is not None
            }
            actions = {k.origin: ov.action for k, ov in overrides.items() if k.pool == pool.name}
            weighted = [o for o in pool.origins if o.id in sets and sets[o.id]["Weight"] > 0]
            unseen = any(k[0] == record for k in self.r53.unseen)
            if (
                exempt
                or unseen
                or pool.name in unread
                or Action.PIN in actions.values()
                or not weighted
                or not all(tracks[o.key].streak >= o.health.fall for o in weighted)
            ):
                self.dead_since.pop(pool.name, None)
                continue
            could = [
                o.id
                for o in pool.origins
                if o.id in sets
                and sets[o.id]["Weight"] == 0
                and actions.get(o.id) is not Action.DRAIN
                and _live(tracks, o, now, interval)
            ]
            by_value = {quote_txt(o.endpoint): o for o in pool.origins}
            for sid, rr in sets.items():
                if sid in {o.id for o in pool.origins} or sid in pool.previous_ids:
                    continue
                if rr["Weight"] <= 0:
                    continue
                named = [
                    by_value[v["Value"]] for v in rr["ResourceRecords"] if v["Value"] in by_value
                ]
                if (named and all(_live(tracks, o, now, interval) for o in named)) or (
                    not named and pool.trust_unowned
                ):
                    # Weighted, yet the pool rests on dead owned sets: the pool failed open
                    # over a foreign set that serves.
                    could.append(sid)
            if not could:
                self.dead_since.pop(pool.name, None)
                continue
            since = self.dead_since.setdefault(pool.name, now)
            if now - since >= self.write_cycle and since != -1.0:
                self.dead_since[pool.name] = -1.0  # reported once per episode
                out.append(
                    f"{pool.name} rests on dead {[o.id for o in weighted]} while "
                    f"{could} could serve"
                )
        return out
