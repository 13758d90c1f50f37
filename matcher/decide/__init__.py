"""Evidence into tiers: geometric verification of a pair of photos, and the tier a hit earns."""
