"""Item pipelines: caps on sizes, original photo bytes kept, photos fingerprinted, lots and registry
records stored (or exported on a node).
"""
