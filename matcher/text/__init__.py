"""Listing text: normalisation, red flags, matching against records, measurements, listing input."""
