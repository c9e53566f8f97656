"""A local AWS world on loopback (the [sandbox] extra): strict Route 53, S3 faults, DNS, demo."""
