"""Match lot photos and listing text against registries of looted and stolen objects.

Packages:
    photo   a photo into its signals (decode, segments, hashes, pdq, features, stability, embed,
            fingerprint, fingerprint_json, hash_pool)
    search  the registry index and its searches (index, descindex, embindex, twins, registry_index,
            retro, relist)
    decide  evidence into tiers (verify, evidence)
    text    listing text (textnorm, flags, textmatch, measure, screen, listing_input)
    db      the review database (schema, store, ingest)
    nodes   batches from crawler nodes (batches, run_summaries, objectstore, origins)

Modules, the two use cases that run photo -> search -> decide:
    check   photos ranked against the registry (lootwatch check), nothing stored
    match   listing photos matched against the registry, object-level candidates written
"""
