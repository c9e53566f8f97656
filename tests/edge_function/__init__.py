"""Tests of the CloudFront Functions router (edge_function/) run from pytest."""
