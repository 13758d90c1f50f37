"""The Scrapy project: settings, items, base spiders, structured data, fetch guards, WARC evidence,
incremental crawling, and the crawler-node add-on.
"""
