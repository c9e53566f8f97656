"""Deterministic, seeded fault simulation of the real round against a fake clock, prober and Route 53."""
