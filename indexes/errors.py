"""What can keep any index backend from answering: each message says why and what to do,
named by a code (``core.errors``) so that the UI says it in the reader's language."""

from core.errors import CodedError


class IndexUnavailable(CodedError, RuntimeError):
    """The index cannot be used now; the message says why and what to do."""

    PREFIX = "index_error_"
    MESSAGES = {
        "old_layout": "the index at {root} is from an older version; run `crisiswatch index --rebuild`",
        "old_fields": "the index at {root} has the fields of an older version of crisiswatch; "
                      "run `crisiswatch index --rebuild`",
        "old_mapping": "the Elasticsearch index {name} has no field {fields} (made by an older version of "
                       "crisiswatch); run `crisiswatch index --rebuild`",
        "locked": "the index at {root} is being written by another process "
                  "(is `crisiswatch demo` or another `crisiswatch index` running?); stop it or wait",
    }


class IndexLocked(IndexUnavailable):
    """Another process holds the index writer."""


class IndexOutdated(IndexUnavailable):
    """The index was built by an older version of crisiswatch."""
