"""Scrapy settings of the crawl stage (override any with ``-s NAME=VALUE``)."""

BOT_NAME = "crisiswatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = "crisiswatch/0.1 (+media monitoring; contact the operator of this crawler)"
ROBOTSTXT_OBEY = True

# Polite by default: a few requests per site at a time, slowed down when the site slows.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 3
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DEPTH_LIMIT = 3
# Follow URLs as long as a post may keep (core.schema.MAX_URL_CHARS; Scrapy's default is 2,083).
URLLENGTH_LIMIT = 16_384

DOWNLOADER_MIDDLEWARES = {
    # before Scrapy's cookies (700) and proxy (750) middlewares, which it feeds
    "crawlers.middlewares.CookieProxyPoolMiddleware": 690,
    # sees failures before Scrapy's retries (550) send them again
    "crawlers.middlewares.RetryBackoffMiddleware": 560,
    # after redirects, decompression (590) and retries (550) have had their turn
    "crawlers.middlewares.BlockPageMiddleware": 540,
    # reads a page's encoding before the block guard and the spiders read its text
    "crawlers.middlewares.DeclaredEncodingMiddleware": 545,
}
# The first back-off delay after a failure, in seconds (then doubled per failure).
CRISISWATCH_BACKOFF_START = 1.0
# Close a crawl after this many block pages (the job's health says why).
CRISISWATCH_BLOCK_LIMIT = 3
# TOML file with [cookies] per domain and a list of proxies (see README); never logged.
CRISISWATCH_POOL_FILE = ""

# Where each source is crawled; tests point these at loopback replays.
WEIBO_API_URL = "https://m.weibo.cn"
WEIBO_SEARCH_URL = "https://s.weibo.com"
SOGOU_WEIXIN_URL = "https://weixin.sogou.com"
WECHAT_ARTICLE_URL = "https://mp.weixin.qq.com"
TIEBA_URL = "https://tieba.baidu.com"

# Loads each job's checkpoints into its spider, and saves those the store pipeline lets pass.
EXTENSIONS = {"crawlers.extensions.Checkpoints": 500}

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.KeywordPipeline": 200,
    "crawlers.pipelines.StorePipeline": 900,
}

# Where the StorePipeline writes: set by `crisiswatch crawl` from the home's settings.
CRISISWATCH_DATABASE_URL = ""
CRISISWATCH_STORE_BATCH = 100

TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 30.0
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
