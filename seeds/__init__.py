"""Seed data: sites.yaml (each site's robots.txt and terms status), the red-flag vocabularies (flags/),
and the demo generator (demo/).
"""
