"""Errors that name themselves by a code, so that each reader gets them in their language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class CodedError(Exception):
    """An error named by ``code``, with the ``values`` its message needs.

    ``str(err)`` is the English message from the family's ``MESSAGES`` (the command line,
    the logs and the audit log show it); the web UI looks ``catalog_id`` up in its gettext
    catalogs and fills in the same values. A value may itself be a ``CodedError`` (a refusal
    that quotes a query's error).
    """

    PREFIX: ClassVar[str] = ""  # the family's start of a catalog id
    MESSAGES: ClassVar[Mapping[str, str]] = {}  # code -> English message, with str.format placeholders

    def __init__(self, code: str, **values):
        self.code, self.values = code, values
        super().__init__(self.MESSAGES[code].format(**values))

    @property
    def catalog_id(self) -> str:
        return self.PREFIX + self.code
