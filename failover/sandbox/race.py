"""Racing real replicas: seeded faults, the leader SIGKILLed or SIGSTOPped at random points.

`Race` runs `failover run` replicas on the sandbox (`Replicas`) and plays episodes, each a
Region down for every replica and back, with the leader hit at a point chosen by a seeded
random number of its own requests after the fault (every probe, table call and Route 53
call goes through its own path, so the count is observable, and no step waits by sleeping):

- `kill`: SIGKILL, and the replica started again under its name;
- `stop`: SIGSTOP, resumed (SIGCONT) once another replica leads, its lease expired;
- `inflight`: the leader's change batch held on the wire while it is stopped, and let go
  only after a newer epoch has written and the Region is back: the batch still matches
  every weight (compare-and-swap alone would take it), so only the fence can refuse it.

`audit()` then reads Route 53's own history (`ledger`) and the replicas' logs: every batch
fenced at an epoch never below one that landed before and sent by the replica that took
the lease at that epoch, no blind write, no update a leader logged as applied missing
from Route 53, no flip-flop within an episode, and the end state
equal to what the leader's health says.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from failover.sandbox import ledger
from failover.sandbox.observe import DaemonProcess, wait_until
from failover.sandbox.replicas import Replicas
from failover.sandbox.s3proxy import ROUTE53_CHANGE
from failover.sandbox.world import REGIONS, ZONE

KINDS = ("kill", "stop", "inflight")
REFUSED = ("change_conflict", "write_refused_fenced", "route53_write_rejected")


class RaceError(AssertionError):
    """A bounded wait ran out: what was awaited did not happen."""


@dataclass
class Episode:
    """One fault episode as played: when it began, what was done, what was seen."""

    kind: str
    region: str
    at: float  # monotonic: the fault
    victim: str = ""
    after_requests: int = 0  # the victim's own requests between the fault and the hit
    took: float | None = None  # fault → the Region's weight at 0 in Route 53
    held: list[str] = field(default_factory=list)  # change ids held on the wire (inflight)
    refused: bool = False  # the held batch was answered with a refusal the victim logged


class Race:
    """Replicas under seeded leader faults; `play` an episode, then `audit` the run."""

    def __init__(self, world: Replicas, seed: int, *, lease: float, patience: float = 20.0):
        self.world, self.rng, self.lease, self.patience = (
            world,
            random.Random(seed),
            lease,
            patience,
        )
        self.sb = world.sandbox
        self.stopped: set[int] = set()
        self.processes: list[tuple[int, DaemonProcess]] = []  # every process ever started
        self.episodes: list[Episode] = []
        self.since = time.monotonic()  # Route 53's history is audited from here on
        ledger.watch(self.sb.zone_id)

    # -- the replicas -------------------------------------------------------------------
    def start(self, i: int) -> None:
        self.processes.append((i, self.world.start(i)))

    def cluster(self, i: int) -> dict[str, Any]:
        d = self.world.daemons[i]
        if i in self.stopped or d is None or not d.alive():
            return {}
        doc = self.world.status(i) or {}
        out: dict[str, Any] = doc.get("cluster") or {}
        return out

    def leader(self) -> int | None:
        """The running replica that says it leads."""
        for i in range(self.world.n):
            if self.cluster(i).get("leading"):
                return i
        return None

    def wait(self, what: str, check: Callable[[], bool], timeout: float | None = None) -> float:
        started = time.monotonic()
        if not wait_until(check, self.patience if timeout is None else timeout):
            raise RaceError(f"not within {timeout or self.patience:.0f} s: {what}")
        return time.monotonic() - started

    def ready(self) -> int:
        """Every replica started; one leads with every view live. Returns the leader."""
        for i in range(self.world.n):
            self.start(i)
        self.wait("one leader and every view live", self.all_live, 3 * self.patience)
        return self._lead()

    def all_live(self) -> bool:
        lead = self.leader()
        return lead is not None and self.cluster(lead).get("live") == self.world.n

    def _lead(self) -> int:
        self.wait("a leader", lambda: self.leader() is not None)
        lead = self.leader()
        if lead is None:
            raise RaceError("the leader went away")
        return lead

    def _signal(self, i: int, sig: signal.Signals) -> None:
        d = self.world.daemons[i]
        if d is not None and d.alive():
            d.proc.send_signal(sig)

    def _requests(self, i: int) -> int:
        return self.world.paths[i].requests()

    def _records(self) -> dict[str, int]:
        return self.sb.records()

    # -- episodes -----------------------------------------------------------------------
    def play(self, kind: str) -> Episode:
        """One episode of `kind`: a Region down for all, the leader hit, the Region back."""
        self.wait("every view live at the leader", self.all_live)
        lead = self._lead()
        region = self.rng.choice(REGIONS)
        ep = Episode(kind, region, 0.0, victim=self.world.names[lead])
        if kind == "inflight":
            self._inflight(ep, lead)
        else:
            ep.after_requests = self.rng.randrange(0, 28)
            base = self._requests(lead)
            ep.at = time.monotonic()
            self.episodes.append(ep)
            self.world.break_region(region, "http_503")
            self.wait(
                "the leader's requests go on",
                lambda: self._requests(lead) >= base + ep.after_requests,
            )
            if kind == "kill":
                self._signal(lead, signal.SIGKILL)
                dead = self.world.daemons[lead]
                if dead is not None:
                    dead.proc.wait()  # reaped; its log stays readable for the audit
                self.start(lead)  # the same name, the same config: a restart
            else:
                epoch = self.cluster(lead).get("epoch") or 0
                self._signal(lead, signal.SIGSTOP)
                self.stopped.add(lead)
                self.wait(
                    "another replica leads, at a later epoch",
                    lambda: any(
                        (c := self.cluster(i)).get("leading") and (c.get("epoch") or 0) > epoch
                        for i in range(self.world.n)
                    ),
                    self.lease + self.patience,
                )
                self._resume(lead)
            self.wait(f"{region} at 0 in Route 53", lambda: self._records().get(region) == 0)
            ep.took = self.landed(region, 0, ep.at)
        self.heal_region(region)
        self.wait(f"{region} back", lambda: self._records().get(region) == 100)
        return ep

    def _inflight(self, ep: Episode, lead: int) -> None:
        """The fencing case: a batch on the wire while its sender sleeps past its lease."""
        path, d = self.world.paths[lead], self.world.daemons[lead]
        path.break_target(ROUTE53_CHANGE, "hang")
        epoch = self.cluster(lead).get("epoch") or 0
        sent = path.requests(ROUTE53_CHANGE)
        ep.at, wall = time.monotonic(), time.time()
        self.episodes.append(ep)
        self.world.break_region(ep.region, "http_503")
        self.wait("the leader's batch on the wire", lambda: path.requests(ROUTE53_CHANGE) > sent)
        self._signal(lead, signal.SIGSTOP)
        self.stopped.add(lead)
        self.wait(
            f"{ep.region} at 0, written by a later epoch",
            lambda: self._records().get(ep.region) == 0,
            self.lease + self.patience,
        )
        ep.took = self.landed(ep.region, 0, ep.at)
        self.heal_region(ep.region)  # back for all; the held batch still on the wire
        self.wait(f"{ep.region} back", lambda: self._records().get(ep.region) == 100)
        path.heal(ROUTE53_CHANGE)  # the stale batch reaches Route 53 now, then its sender wakes
        self._resume(lead)

        def planned() -> list[str]:
            """The victim's batches of its old epoch that took the Region down."""
            return [
                str(s.event.get("change_id"))
                for s in (d.events(wall, "weights_planned") if d is not None else [])
                if s.event.get("epoch") == epoch
                and any(
                    c.get("origin") == ep.region and c.get("to") == 0
                    for c in s.event.get("changes", [])
                )
            ]

        def refused() -> bool:
            ep.held = planned()
            return d is not None and any(
                str(s.event.get("change_id", "")).rstrip("r") in ep.held
                for name in REFUSED
                for s in d.events(wall, name)
            )

        ep.refused = wait_until(refused, self.patience)

    def heal_region(self, region: str) -> None:
        self.sb.heal(region)
        for p in self.world.paths:
            p.heal(self.sb.buckets[region])

    def _resume(self, i: int) -> None:
        self._signal(i, signal.SIGCONT)
        self.stopped.discard(i)

    def landed(self, region: str, weight: int, since: float) -> float | None:
        """Fault → the batch that set the Region's weight landed (Route 53's own history)."""
        for m in ledger.moves(ledger.history(self.sb.zone_id, since), self.sb.record):
            if m.origin == region and m.new == weight:
                return round(m.at - since, 2)
        return None

    # -- the end ------------------------------------------------------------------------
    def converge(self) -> dict[str, int]:
        """Everything healed and resumed: Route 53 ends where the leader's health says."""
        for i in list(self.stopped):
            self._resume(i)
        self.world.heal()

        def settled() -> bool:
            lead = self.leader()
            if lead is None:
                return False
            doc = self.world.status(lead) or {}
            said = {
                o["id"]: o["desired"]
                for p in doc.get("pools", [])
                for o in p.get("origins", [])
                if o.get("state") == "up"
            }
            return len(said) == len(REGIONS) and self._records() == said

        self.wait("Route 53 at the weights the leader's health says", settled)
        return self._records()

    def _senders(self, stamps: list[ledger.Stamp]) -> list[str]:
        """Each landed batch was planned by a replica that took the lease at that epoch."""
        planned: dict[str, int] = {}  # change id → the process (index in `processes`)
        took: dict[int, set[int]] = {}  # process → epochs it took the lease at
        for k, (_, d) in enumerate(self.processes):
            # a weight batch is logged as planned; a new leader's fence-only batch (the
            # bump of every zone's fence as it takes over) as fence_bumped
            for name in ("weights_planned", "fence_bumped"):
                for s in d.events(name=name):
                    planned[str(s.event.get("change_id"))] = k
            took[k] = {int(s.event.get("epoch") or 0) for s in d.events(name="leadership_taken")}
        problems = []
        for t in stamps:
            # a resent batch (`r`) or one pool's part (`p<i>`) extends the planned id
            n = next((planned[c] for c in planned if t.change_id.startswith(c)), None)
            if n is None:
                problems.append(f"{t.change_id} (epoch {t.epoch}) landed; no replica planned it")
            elif t.epoch not in took[n]:
                i = self.processes[n][0]
                problems.append(
                    f"{t.change_id} landed at epoch {t.epoch}; {self.world.names[i]} never "
                    f"took the lease at that epoch (it took {sorted(took[n])})"
                )
        return problems

    def audit(self) -> list[str]:
        """Every broken promise found in Route 53's history and the replicas' logs."""
        batches = ledger.history(self.sb.zone_id, self.since)
        problems = ledger.audit_epochs(batches, ZONE) + ledger.audit_writes(batches)
        moves = ledger.moves(batches, self.sb.record)
        problems += ledger.flip_flops(moves, [e.at for e in self.episodes])
        stamps = [t for b in batches if (t := ledger.Stamp.of(b.comment)) is not None]
        landed = {t.change_id for t in stamps}
        problems += self._senders(stamps)
        for i, d in self.processes:
            for s in d.events(name="weights_applied"):
                cid = str(s.event.get("change_id"))
                if s.event.get("route53_change") != "already-applied" and cid not in landed:
                    problems.append(
                        f"{self.world.names[i]} logged {cid} applied; Route 53 never took it"
                    )
        for ep in self.episodes:
            if ep.kind != "inflight":
                continue
            if not ep.held:
                problems.append("inflight: no batch of the paused leader was held on the wire")
            if not ep.refused:
                problems.append(f"inflight: the held batch {ep.held} was not refused")
            if landed & set(ep.held) or any(f"{c}r" in landed for c in ep.held):
                problems.append(f"inflight: the stale batch {ep.held} landed")
        return problems
