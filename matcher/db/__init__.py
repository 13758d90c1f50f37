"""The review database: schema (migrations), the store, and the ingest of image bytes' signals."""
