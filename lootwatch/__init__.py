"""The command line (cli), its configuration (config), the demo run, and the multi-machine helpers:
crawler nodes, Scrapyd, backups, lock files.
"""
