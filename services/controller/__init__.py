"""Job controller: runs crawl -> filter -> train -> serve -> evaluate pipelines with durable state."""
