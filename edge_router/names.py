"""AWS name rules shared by the daemon's config and the edge router: buckets, Regions, S3 hosts.

This module lives in `edge_router/` and the daemon imports it from there. The edge router's
zip must run on Lambda@Edge alone, with no `failover` package: keeping the module here means
the zip is built from the router's own files, with one import name everywhere, no copy step
and no second source of truth. The daemon's distribution already ships `edge_router` (see
`pyproject.toml` and the container image), so importing it costs the daemon nothing. For the
same reason the module is stdlib only: the router ships without botocore.

Which Regions: only those of the `aws` partition. The edge router runs on CloudFront with
Lambda@Edge, which exist in the `aws` partition only, and reads every bucket with one origin
access identity; the daemon probes every bucket with one set of credentials. AWS, "AWS Fault
Isolation Boundaries", Partitions: "Partitions have independent instances of AWS Identity and
Access Management (IAM) and provide a hard boundary between Regions in different partitions.
[...] You cannot use IAM credentials from one partition to interact with resources in a
different partition." So a bucket in China (`aws-cn`), the European Sovereign Cloud
(`aws-eusc`), GovCloud (`aws-us-gov`) or an isolated partition cannot be an origin here: the
config refuses it and so does the router, each naming the partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"
# The `aws` partition's DNS suffix: S3 regional endpoints are BUCKET.s3.REGION.amazonaws.com.
# AWS, S3 User Guide, "Virtual hosting of general purpose buckets": "most buckets are
# automatically accessible for limited types of requests at
# https://bucket-name.s3.region-code.amazonaws.com".
DNS_SUFFIX = "amazonaws.com"
MAX_BUCKET = 63
MAX_DNS_NAME = 253
_SHOWN = 80  # longest value a message quotes whole


@dataclass(frozen=True)
class Partition:
    """A partition other than `aws`: how its Region names look, what it is, its DNS suffix."""

    id: str
    pattern: re.Pattern[str]
    what: str
    dns_suffix: str


# Region names of the aws partition: botocore's partitions.json gives
# ^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$; the middle word is narrowed to the compass
# directions every Region uses, so a typo such as "eu-wset-1" is not taken for a new Region.
_AWS_REGION = re.compile(
    r"(?:us|eu|ap|sa|ca|me|af|il|mx)"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)"
    r"-[1-9][0-9]?"
)
# The other partitions, from botocore's partitions.json (regionRegex, dnsSuffix).
OTHER_PARTITIONS = (
    Partition("aws-cn", re.compile(r"cn-[a-z]+-\d+"), "the China Regions", "amazonaws.com.cn"),
    Partition(
        "aws-eusc",
        re.compile(r"eusc-de-[a-z]+-\d+"),
        "the AWS European Sovereign Cloud",
        "amazonaws.eu",
    ),
    Partition("aws-us-gov", re.compile(r"us-gov-[a-z]+-\d+"), "AWS GovCloud (US)", DNS_SUFFIX),
    Partition("aws-iso", re.compile(r"us-iso-[a-z]+-\d+"), "an isolated Region", "c2s.ic.gov"),
    Partition(
        "aws-iso-b", re.compile(r"us-isob-[a-z]+-\d+"), "an isolated Region", "sc2s.sgov.gov"
    ),
    Partition(
        "aws-iso-e", re.compile(r"eu-isoe-[a-z]+-\d+"), "an isolated Region", "cloud.adc-e.uk"
    ),
    Partition(
        "aws-iso-f", re.compile(r"us-isof-[a-z]+-\d+"), "an isolated Region", "csp.hci.ic.gov"
    ),
)

# AWS, S3 User Guide, "General purpose bucket naming rules": "Bucket names must be between 3
# (min) and 63 (max) characters long. Bucket names can consist only of lowercase letters,
# numbers, periods (.), and hyphens (-). Bucket names must begin and end with a letter or
# number. Bucket names must not contain two adjacent periods. Bucket names must not be
# formatted as an IP address (for example, 192.168.5.4). Bucket names must not start with the
# prefix xn--. [...] sthree-. [...] amzn-s3-demo-. Bucket names must not end with the suffix
# -s3alias. [...] --ol-s3. [...] .mrap. [...] --x-s3. [...] --table-s3."
_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IPV4_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

_ENDPOINT = re.compile(
    r"(?P<bucket>[a-z0-9.-]+)\.s3\.(?P<dualstack>dualstack\.)?(?P<region>[a-z0-9-]+)"
    + re.escape("." + DNS_SUFFIX)
)
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def quote(value: str) -> str:
    """`value` in double quotes as a message may show it: bounded, no line breaks or controls."""
    shown = value if len(value) <= _SHOWN else value[: _SHOWN - 3] + "..."
    return '"' + "".join(_char(c) for c in shown) + '"'


def _char(c: str) -> str:
    if c == '"':
        return '\\"'
    if c.isprintable() and c != "\\":
        return c
    return c.encode("unicode_escape").decode("ascii")


# ---- buckets ------------------------------------------------------------------------------


def bucket_reason(name: str, *, allow_dots: bool = False) -> str | None:
    """Which rule `name` breaks as an S3 general purpose bucket name, or None.

    `allow_dots=False` (every origin bucket) also refuses dots: a dotted name is outside S3's
    `*.s3.REGION.amazonaws.com` wildcard certificate, so TLS to the virtual-hosted endpoint
    the edge router sends requests to fails.
    """
    if not 3 <= len(name) <= MAX_BUCKET:
        return f"3 to {MAX_BUCKET} characters"
    if not _BUCKET_CHARS.fullmatch(name):
        return 'only lowercase letters, digits, "." and "-" are allowed'
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a letter or digit"
    if ".." in name:
        return 'must not contain ".."'
    if _IPV4_LIKE.fullmatch(name):
        return "must not look like an IP address"
    for prefix in BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"the prefix {prefix} is reserved"
    for suffix in BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"the suffix {suffix} is reserved"
    if "." in name and not allow_dots:
        return "dots break TLS on the virtual-hosted endpoint the edge router uses"
    return None


def bucket_problem(name: str, *, allow_dots: bool = False) -> str | None:
    """Why `name` is not a usable bucket name, as a sentence naming it; None if it is usable."""
    why = bucket_reason(name, allow_dots=allow_dots)
    return None if why is None else f"{quote(name)} is not a valid S3 bucket name ({why})"


# ---- Regions and partitions ---------------------------------------------------------------


def partition_of(region: str) -> str | None:
    """The partition whose Region names `region` follows, or None if it follows none."""
    if _AWS_REGION.fullmatch(region):
        return PARTITION
    return next((p.id for p in OTHER_PARTITIONS if p.pattern.fullmatch(region)), None)


def region_reason(region: str) -> str | None:
    """Why `region` cannot hold an origin bucket, or None for a Region of the aws partition."""
    if _AWS_REGION.fullmatch(region):
        return None
    for p in OTHER_PARTITIONS:
        if p.pattern.fullmatch(region):
            return (
                f"a Region of the {p.id} partition, {p.what}; CloudFront and Lambda@Edge run "
                f"in the {PARTITION} partition and IAM does not cross partitions, so its "
                f"buckets cannot be origins"
            )
    if region != region.lower():
        lower = region_reason(region.lower())
        return f"Region names are lowercase: {region.lower()}" if lower is None else lower
    return "not an AWS Region name like eu-west-1"


def region_problem(region: str) -> str | None:
    """Why `region` cannot hold an origin bucket, as a sentence naming it; None if it can."""
    why = region_reason(region)
    return None if why is None else f"{quote(region)} is not a usable AWS Region ({why})"


# ---- Regions the Lambda@Edge router can reach ---------------------------------------------

# The router sends each request to the bucket a TXT record names, signed by the distribution's
# origin access identity. AWS, CloudFront Developer Guide, "Restrict access to an Amazon S3
# origin": OAC is recommended because it supports "All Amazon S3 buckets in all AWS Regions,
# including opt-in Regions launched after December 2022 [...] Origin access identity (OAI)
# doesn't support these features or it requires extra workarounds in these scenarios." And
# the same page: "OAC doesn't support origin redirect by using Lambda@Edge." So the router
# (an origin redirect by Lambda@Edge, signed with an OAI) reaches only buckets in Regions
# launched by December 2022: these. Any other Region, including one launched tomorrow, is
# refused for it, so a new Region is refused until someone checks it and adds it here.
OAI_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "me-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)


def edge_region_reason(region: str) -> str | None:
    """Why the Lambda@Edge router cannot send requests to a bucket in `region`, or None."""
    why = region_reason(region)
    if why is not None or region in OAI_REGIONS:
        return why
    return (
        "launched after December 2022: an origin access identity does not reach its buckets "
        "without workarounds, and origin access control cannot sign a Lambda@Edge origin "
        "redirect, so the Lambda@Edge router cannot use it"
    )


# ---- S3 regional endpoints ----------------------------------------------------------------


def endpoint_host(bucket: str, region: str, *, dualstack: bool = False) -> str:
    """The virtual-hosted S3 regional endpoint of `bucket` in `region` (an aws Region)."""
    middle = "s3.dualstack" if dualstack else "s3"
    return f"{bucket}.{middle}.{region}.{DNS_SUFFIX}"


def split_endpoint(host: str) -> tuple[str, str] | None:
    """(bucket, region) of `BUCKET.s3[.dualstack].REGION.amazonaws.com`, unchecked; else None.

    `host` must already be lowercase without a trailing dot; the parts still need
    `bucket_reason` and `region_reason`.
    """
    match = _ENDPOINT.fullmatch(host)
    return None if match is None else (match["bucket"], match["region"])


# ---- DNS names ----------------------------------------------------------------------------


def normalise_dns_name(name: str) -> str:
    """A DNS name as both sides compare it: lowercase, without the trailing dot."""
    return name.lower().removesuffix(".")


def dns_name_reason(name: str) -> str | None:
    """Why the normalised `name` is not a fully qualified name to look a TXT record up by."""
    if len(name) > MAX_DNS_NAME:
        return f"is longer than {MAX_DNS_NAME} characters"
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return "is not a fully qualified DNS name (labels of 1-63 a-z 0-9 _ -)"
    return None
