"""Scrapy settings for lootwatch. ``lootwatch crawl`` overrides the LOOTWATCH_* paths from lootwatch.toml."""

BOT_NAME = "lootwatch"
SPIDER_MODULES = ["spiders.markets", "spiders.registries"]
NEWSPIDER_MODULE = "spiders.markets"

# Politeness: identify honestly, obey robots.txt, few requests per domain, adapt to the server.
# Set LOOTWATCH_CONTACT_URL in lootwatch.toml ([scrapy]) to the operator's page; the User-Agent follows.
LOOTWATCH_CONTACT_URL = "https://github.com/lootwatch/lootwatch"
USER_AGENT = f"lootwatch/0.1 (heritage-crime research crawler; +{LOOTWATCH_CONTACT_URL})"
# A 429 or 503 with Retry-After is retried after that wait (capped), and the site is slowed down.
LOOTWATCH_MAX_RETRY_AFTER = 600
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 30 * 1024 * 1024  # a page or image larger than this is refused, not buffered
DOWNLOAD_WARNSIZE = 10 * 1024 * 1024
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no port that runs code sent to it, however well guarded
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Where lootwatch keeps things; `lootwatch crawl` sets these from its config.
LOOTWATCH_DB = "lootwatch.db"
LOOTWATCH_DATA_DIR = "data"
FILES_STORE = "data/originals"
FILES_URLS_FIELD = "image_urls"
FILES_RESULT_FIELD = "files"
MEDIA_ALLOW_REDIRECTS = True

# Only public addresses are connected to: the resolver passes on a host's addresses only when all are
# globally routable (spiders.addresses). The exceptions are these host:port pairs ("127.0.0.1:8000"),
# e.g. a registry service on the operator's own network; the demo houses allow their own server.
TWISTED_DNS_RESOLVER = "spiders.addresses.PublicOnlyResolver"
LOOTWATCH_ALLOW_HOSTS: list[str] = []

# Evidence: every response as received (before decompression, redirects, retries) into WARC files.
LOOTWATCH_WARC = True
LOOTWATCH_WARC_MAX_BYTES = 1_000_000_000
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.PublicAddressMiddleware": 50,
    "spiders.retry_after.RetryAfterMiddleware": 560,
    "spiders.incremental.ConditionalRequestMiddleware": 640,
    "spiders.warc.WarcMiddleware": 650,
    # Next to the downloader: a refused lookup is not retried, a refused answer never reaches the WARC.
    "spiders.middlewares.ConnectedAddressMiddleware": 950,
}
# Lot pages count as done once stored, so `lootwatch crawl --jobdir` resumes even after kill -9.
DUPEFILTER_CLASS = "spiders.resume.CommittedDupeFilter"
# For developing a spider only (`lootwatch crawl --http-cache`): a daily run must see the live site.
HTTPCACHE_ENABLED = False
HTTPCACHE_DIR = "httpcache"
SPIDER_MIDDLEWARES = {"spiders.sites.SiteStatusMiddleware": 10}
# Sites of seeds/sites.yaml shipped disabled that the operator has permission to crawl.
LOOTWATCH_ENABLE_SITES: list[str] = []
# Caps first: text fields cut to 100,000 characters, at most 50 photos and no photo URL over
# URLLENGTH_LIMIT, before any photo is fetched or anything stored (spiders/pipelines/caps.py).
ITEM_PIPELINES = {
    "spiders.pipelines.caps.TextCapPipeline": 50,
    "spiders.pipelines.originals.OriginalsPipeline": 100,
    "spiders.pipelines.listings.StoreListingPipeline": 300,
    "spiders.pipelines.registry.StoreRegistryPipeline": 310,
}
EXTENSIONS = {"spiders.runs.RunRecorder": 500}
# Crawler-node mode, off unless LOOTWATCH_NODE and LOOTWATCH_STORAGE are set (spiders/node.py): lots go
# to object storage as feed batches of LOOTWATCH_BATCH_ITEMS, not into the review database.
ADDONS = {"spiders.node.NodeAddon": 0}
LOOTWATCH_NODE = ""
LOOTWATCH_STORAGE = ""
LOOTWATCH_BATCH_ITEMS = 500
