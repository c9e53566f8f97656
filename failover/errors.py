"""The daemon's exceptions: one root, and a ConfigError that carries every problem found."""

from __future__ import annotations


class FailoverError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(FailoverError):
    """A configuration with problems; `problems` lists each as `where: what`."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + f"{len(self.problems)} problem(s): " + "; ".join(self.problems))


class Route53Error(FailoverError):
    """A Route 53 call failed after retries (or could not be retried)."""


class RejectedError(Route53Error):
    """Route 53 refused a change batch for its content, not a race: resending cannot help."""


class ConflictError(Route53Error):
    """A change batch was rejected because a record no longer matched what we read."""


class OverrideError(FailoverError):
    """Overrides could not be read or written, or a request was refused."""


class OverrideConflictError(OverrideError):
    """Someone else changed the overrides between our read and our write."""


class ProbeSetupError(FailoverError):
    """A probe could not even be prepared (credentials, endpoint resolution)."""


class FencedError(FailoverError):
    """Cluster mode: this replica may not write (no lease, its deadline passed, superseded)."""
