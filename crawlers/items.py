"""What spiders yield: the raw fields of one post (validated later by the pipelines),
and checkpoints of how far a job got."""

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
    # the core.schema.Capture of the response the post was read from
    capture = scrapy.Field()
    # the validated, normalised core.schema.Post, set by ValidatePipeline
    post = scrapy.Field()


class CheckpointItem(scrapy.Item):
    """Saved (crawlers.extensions.Checkpoints) once the store pipeline has stored every post yielded before it."""

    source = scrapy.Field()
    key = scrapy.Field()
    value = scrapy.Field()
