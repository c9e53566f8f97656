"""Tests of the Lambda@Edge origin router and the local DNS responder it is tested against."""
