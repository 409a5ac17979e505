"""The crawl stage: a Scrapy project whose item pipelines write posts to the store."""
