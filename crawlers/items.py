"""What a spider yields: the raw fields of one post, validated later by the pipelines."""

import scrapy


class PostItem(scrapy.Item):
    platform = scrapy.Field()
    platform_id = scrapy.Field()
    kind = scrapy.Field()
    title = scrapy.Field()
    text = scrapy.Field()
    url = scrapy.Field()
    author_id = scrapy.Field()
    author_name = scrapy.Field()
    author_verified = scrapy.Field()
    created_at = scrapy.Field()
    parent_id = scrapy.Field()
    reposts_count = scrapy.Field()
    comments_count = scrapy.Field()
    likes_count = scrapy.Field()
    # the validated, normalised core.schema.Post, set by ValidatePipeline
    post = scrapy.Field()
