"""Lambda@Edge origin-request function that picks an S3 origin from a weighted TXT record."""
