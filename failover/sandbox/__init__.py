"""A local AWS world on loopback: strict Route 53, S3 fault injection, DNS, the demo."""
