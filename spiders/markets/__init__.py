"""Market spiders, one module per site (or per family of YAML-described sites): each turns a site's
pages into lots.
"""
