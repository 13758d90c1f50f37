"""Batches from crawler nodes: object storage, batch and run-summary ingest, which node speaks for a site."""
