"""failover: health-driven failover of multi-region S3 origins behind CloudFront."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("failover")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
