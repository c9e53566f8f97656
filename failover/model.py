"""Values shared by every part of the daemon: configuration, probe results, health, weights."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from edge_router.names import endpoint_host

MAX_WEIGHT = 255
CANARY_BYTES = 5120  # bytes read from a canary, as Route 53 health checks read for string match


class Outcome(enum.StrEnum):
    """How one probe of one canary ended; a bounded set, used as a metric label."""

    OK = "ok"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    HTTP_OTHER = "http_other"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MISMATCH = "mismatch"
    TOO_OLD = "too_old"
    # S3 refused the daemon's own signature: its credentials, its clock or an expired URL.
    CREDENTIALS = "credentials"

    @property
    def healthy(self) -> bool:
        return self is Outcome.OK

    @property
    def transport_failure(self) -> bool:
        """No HTTP answer at all: the prober's own network may be at fault."""
        return self in (Outcome.TIMEOUT, Outcome.CONNECTION)

    @property
    def own_fault(self) -> bool:
        """The daemon's own fault (credentials, clock): neither healthy nor evidence."""
        return self is Outcome.CREDENTIALS


# What `ProbeResult.detail` says of an `Outcome.CREDENTIALS` probe, a bounded set (a metric
# label): the S3 error codes that blame the request's credentials, signature or date, an
# expired presigned URL, and a URL that could not be signed at all.
OWN_FAULTS = (
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "RequestExpired",
    "CannotSign",
)


def outcome_for_status(status: int) -> Outcome:
    """Classify an HTTP status that is not a success."""
    if status == 403:
        return Outcome.HTTP_403
    if status == 404:
        return Outcome.HTTP_404
    if 400 <= status < 500:
        return Outcome.HTTP_4XX
    if 500 <= status < 600:
        return Outcome.HTTP_5XX
    return Outcome.HTTP_OTHER


def quote_txt(value: str) -> str:
    """A TXT value as Route 53's API carries it: in double quotes, `"` and `\\` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class HealthSettings:
    """Probe and hysteresis settings; `[health]` defaults, overridable per pool and origin."""

    timeout: float = 1.0
    fall: int = 3
    rise: int = 2
    hold_down: float = 30.0
    hold_down_max: float = 600.0
    slow_start: float = 0.0
    expect: str = ""
    max_age: float = 0.0


@dataclass(frozen=True)
class Origin:
    """One regional bucket of a pool: one weighted set of the pool's TXT record."""

    pool: str
    id: str  # the weighted set's SetIdentifier
    bucket: str
    region: str
    weight: int
    canary: str
    health: HealthSettings
    # A standby holds 0 while idle; `weight` is what it carries once every primary is out.
    standby: bool = False
    # The distribution's origin id a KeyValueStore value names ("" = "s3-" + id).
    cf_origin_id: str = ""

    @property
    def key(self) -> OriginKey:
        return OriginKey(self.pool, self.id)

    @property
    def target(self) -> tuple[str, str, str]:
        """What its health is evidence about: bucket, Region and canary."""
        return (self.bucket, self.region, self.canary)

    @property
    def endpoint(self) -> str:
        """The S3 regional endpoint the edge router sends requests to: the TXT value."""
        return endpoint_host(self.bucket, self.region)


@dataclass(frozen=True, order=True)
class OriginKey:
    pool: str
    origin: str

    def __str__(self) -> str:
        return f"{self.pool}/{self.origin}"


@dataclass(frozen=True)
class Pool:
    """One TXT record name (one `X-DNS-ORIGIN`) and its weighted origins."""

    name: str
    record: str  # fully qualified, without the trailing dot
    zone_id: str
    ttl: int
    origins: tuple[Origin, ...]
    canary_source: str = ""  # origin id whose bucket replication copies from ("" = no writer)
    router: str = "lambda-edge"  # what reads the record at the edge (see config_schema.ROUTERS)
    failback: str = "auto"  # "auto": standbys hand back on their own; "manual": a pin releases
    trust_unowned: bool = False  # a set the config does not own, naming no bucket, serves
    previous_ids: tuple[str, ...] = ()  # set ids of renamed origins: retired to weight 0
    sink: str = "route53"  # where its weights go: "route53", "kvs" or "both" (config_schema.SINKS)
    backstop: bool = False  # each set carries a CLOUDWATCH_METRIC health check (core/backstop.py)

    @property
    def primaries(self) -> tuple[Origin, ...]:
        return tuple(o for o in self.origins if not o.standby)

    @property
    def standbys(self) -> tuple[Origin, ...]:
        """The standbys in the order they take over: the order the config lists them."""
        return tuple(o for o in self.origins if o.standby)

    def origin(self, origin_id: str) -> Origin:
        for o in self.origins:
            if o.id == origin_id:
                return o
        raise KeyError(origin_id)


@dataclass(frozen=True)
class DaemonSettings:
    interval: float = 2.0
    listen: str = "127.0.0.1:9464"
    log_format: str = "json"
    log_level: str = "info"
    dry_run: bool = False
    resync: float = 60.0
    route53_rate: float = 5.0
    overrides: str = "file:///var/lib/failover/overrides.json"
    overrides_grace: float = 120.0  # seconds raises wait for a first read of the overrides
    canary_write_interval: float = 0.0  # 0 = the daemon does not write canaries


@dataclass(frozen=True)
class KvsSettings:
    """`[kvs]`: the CloudFront KeyValueStore that pools with sink "kvs" or "both" write."""

    arn: str = ""  # the store's ARN (required once a pool writes to it)
    rate: float = 2.0  # store requests per second, all calls together
    endpoint_url: str = ""  # "" = AWS's; a local data plane (the sandbox) otherwise
    proxy: str = ""  # "" = none; the HTTP proxy the store's client alone goes through


@dataclass(frozen=True)
class ClusterSettings:
    """`[cluster]`: replicas that vote, one leader that writes (off unless a table is named)."""

    table: str
    replicas: int
    region: str = ""  # the table's Region ("" = the SDK's default)
    quorum: int = 0  # 0 = a majority of `replicas`; a lower quorum must be set on purpose
    name: str = ""  # this replica's name ("" = FAILOVER_REPLICA_NAME, else the host name)
    lease_seconds: float = 30.0
    lease_margin_seconds: float = 5.0

    @property
    def needed(self) -> int:
        """Views that must agree to mark an origin down or up: of the configured replicas."""
        return self.quorum or self.replicas // 2 + 1


@dataclass(frozen=True)
class BackstopSettings:
    """`[backstop]`: where verdicts are published for the alarms behind Route 53 health checks."""

    region: str = ""  # the metrics Region: alarms live here ("" = no pool has a backstop)
    namespace: str = "Failover"
    period_seconds: int = 60  # one datapoint per origin per period; the alarm's Period
    evaluation_periods: int = 1  # the verdict is already debounced by fall/rise
    quorum_fraction: float = 0.5  # alarm when Average(1 = down over publishers) >= this


@dataclass(frozen=True)
class Config:
    daemon: DaemonSettings
    health: HealthSettings
    pools: tuple[Pool, ...]
    kvs: KvsSettings = KvsSettings()
    cluster: ClusterSettings | None = None  # None: one daemon, as always
    backstop: BackstopSettings = BackstopSettings()

    def all_origins(self) -> tuple[Origin, ...]:
        return tuple(o for p in self.pools for o in p.origins)

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(name)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe of one origin's canary saw. `detail` never holds a URL or secret."""

    key: OriginKey
    outcome: Outcome
    latency: float  # seconds
    status: int | None = None
    age: float | None = None  # canary age in seconds, when it carries written_at
    detail: str = ""
    skew: float | None = None  # S3's Date header minus the local clock, seconds (to 1 s)


class State(enum.StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Health:
    """Per-origin hysteresis state, advanced by `health.step` one probe at a time."""

    state: State = State.UNKNOWN
    successes: int = 0  # consecutive
    failures: int = 0  # consecutive
    down_since: float | None = None  # when it last went down (hold-down runs from here)
    up_since: float | None = None  # when it last came up (slow start runs from here)
    flaps: int = 0  # consecutive quick down-after-up events; grows the hold-down
    hold_down: float = 0.0  # the hold-down in force for the current down period
    last_outcome: Outcome | None = None
    # The verdict predates a blind spell (writes frozen, so it may never have been
    # written): a down verdict lowers no weight until a failure seen since.
    stale: bool = False


@dataclass(frozen=True)
class WeightedSet:
    """One weighted TXT record set as Route 53 holds it."""

    name: str  # fully qualified, without the trailing dot
    set_id: str
    weight: int
    ttl: int
    values: tuple[str, ...]  # the TXT strings, unquoted, each value's strings joined
    # The values exactly as Route 53 returned them (quoted, possibly several strings),
    # so a DELETE matches what is there; not part of equality.
    raw: tuple[str, ...] = field(default=(), compare=False)
    # Every other attribute Route 53 returned (HealthCheckId, …), as (name, JSON) sorted by
    # name: the daemon does not own them and repeats them exactly in every DELETE and CREATE.
    extra: tuple[tuple[str, str], ...] = ()


class Action(enum.StrEnum):
    DRAIN = "drain"
    PIN = "pin"


@dataclass(frozen=True)
class Override:
    """An operator's drain or pin of one origin, with who set it, when and why."""

    key: OriginKey
    action: Action
    by: str
    at: float  # unix time
    reason: str


class Reason(enum.StrEnum):
    """Why policy wants a weight, or why a set is rewritten; a bounded set, logged with changes."""

    FROZEN = "frozen"
    PINNED = "pinned"
    DRAINED = "drained"
    UNKNOWN = "unknown"
    STALE = "stale"  # down before a blind spell, not yet confirmed since: weight kept
    UP = "up"
    DOWN = "down"
    SLOW_START = "slow_start"
    FAILED_OPEN = "failed_open"
    STANDBY = "standby"  # a standby, idle while a primary serves
    ACTIVE = "active"  # a standby carrying weight: every primary is out
    HELD = "held"  # a primary back up, held at 0: manual failback, the standby keeps serving
    RETIRED = "retired"  # a set of a previous id (a renamed origin) taken to 0
    MISSING = "missing"  # the set is not in Route 53: created
    TTL_DRIFT = "ttl_drift"  # same weight, the TTL is corrected
    VALUE_DRIFT = "value_drift"  # same weight, the value (bucket endpoint) is corrected
    BACKSTOP = "backstop"  # same weight, the set gets its health check (`failover backstop`)


@dataclass(frozen=True)
class Decision:
    """The weight policy wants for one origin, and why."""

    key: OriginKey
    weight: int | None  # None: no opinion, keep what Route 53 has
    reason: Reason


@dataclass(frozen=True)
class Desired:
    """Policy's verdict for one pool."""

    pool: str
    decisions: tuple[Decision, ...]
    failed_open: bool = False
    frozen: bool = False

    def weights(self) -> dict[str, int]:
        return {d.key.origin: d.weight for d in self.decisions if d.weight is not None}


@dataclass(frozen=True)
class Change:
    """Replace `old` by `new` (compare-and-swap); `old` None creates."""

    pool: str
    old: WeightedSet | None
    new: WeightedSet
    reason: Reason

    @property
    def raises(self) -> bool:
        return self.new.weight > (0 if self.old is None else self.old.weight)

    @property
    def lowers(self) -> bool:
        return self.old is not None and self.new.weight < self.old.weight


@dataclass(frozen=True)
class Guard:
    """A set rewritten unchanged beside a pool's changes, so the batch fails if it changed."""

    pool: str
    held: WeightedSet
