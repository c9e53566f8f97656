"""`python -m failover`: the same command as `failover`."""

from failover.cli import main

raise SystemExit(main())
