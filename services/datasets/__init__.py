"""Dataset store: versioned, immutable Parquet datasets in S3 with atomic manifests."""
