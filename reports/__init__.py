"""The review tool: the Datasette plugin and its pages (worklist, candidate, photo check), the daily
digest and alerts, and evidence packs.
"""
