"""Cluster mode: replicas, views and a leader lease on DynamoDB, and the fence in Route 53."""
