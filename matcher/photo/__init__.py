"""A photo into its signals: canonical decode, parts, hashes, local features, embedding, fingerprint."""
