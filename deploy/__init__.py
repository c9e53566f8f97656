"""Deployment artefacts (CloudFormation, systemd, container, Prometheus) and their checks."""
