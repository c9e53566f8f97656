"""Adapters for AWS: the canary prober and the Route 53 record store."""
