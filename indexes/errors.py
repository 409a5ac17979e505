"""What can keep any index backend from answering: each message says why and what to do."""


class IndexUnavailable(RuntimeError):
    """The index cannot be used now; the message says why and what to do."""


class IndexLocked(IndexUnavailable):
    """Another process holds the index writer."""


class IndexOutdated(IndexUnavailable):
    """The index was built by an older version of crisiswatch."""
