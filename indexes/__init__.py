"""Search over the posts: one query model, answered by an index derived from the store."""
