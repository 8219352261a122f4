"""Log plumbing: a request id on every line, and secrets scrubbed before anything is written."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("outsmart_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


class RedactFilter(logging.Filter):
    """Rewrites the formatted message with settings.LOG_REDACTIONS applied.

    Patterns have one group, the part to keep; what follows it is replaced. The message is
    rendered here (args merged) so a secret passed as a %-argument is caught too.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._patterns: list[re.Pattern[str]] | None = None

    def _compiled(self) -> list[re.Pattern[str]]:
        if self._patterns is None:
            from django.conf import settings

            self._patterns = [re.compile(p) for p in getattr(settings, "LOG_REDACTIONS", [])]
        return self._patterns

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = str(record.msg)
        redacted = message
        for pattern in self._compiled():
            redacted = pattern.sub(r"\1[redacted]", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
