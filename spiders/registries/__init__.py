"""Registry spiders and readers: the FBI National Stolen Art File API, and registry files (CSV, TSV,
XLSX, JSON, JSONL) with their photos.
"""
