"""The `failover` command's subcommands that live outside `cli.py`, one module per job."""
