"""Tests of deploy/: templates, unit file, image, alert rules and dashboard."""
