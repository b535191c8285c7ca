"""Keep webhook tokens out of every log line and exception text.

The token sits in the URL path, and urllib3 logs request lines (``"POST /rest/1/<token>/...``)
at DEBUG on its own loggers; requests' exceptions quote the URL too. Every client registers
its token here; :class:`SecretFilter` rewrites records on the loggers that could carry it.
"""

from __future__ import annotations

import logging
import threading

from identsync.mask import mask

__all__ = ["register_secret", "scrub", "portal_text", "install_filters", "MASK"]

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False

# Loggers of the HTTP stack that format request URLs, plus our own as a backstop.
_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "urllib3.response",
    "urllib3",
    "requests",
    "identsync.bitrix24",
)


def register_secret(secret: str) -> None:
    """Remember ``secret`` (a token) so :func:`scrub` and the log filter hide it."""
    if secret and len(secret) >= 4:  # a 1-3 char "token" would mask half the log
        with _lock:
            _secrets.add(secret)
    install_filters()


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def portal_text(text: str) -> str:
    """The portal's own words (an ``error_description``) as we keep and show them.

    A portal quotes what it refused, a patient's phone included, and the text then goes to
    the retry queue, logs, alerts and the health page: it is masked once, as it arrives.
    """
    return mask(scrub(text))


class SecretFilter(logging.Filter):
    """Formats the record once and masks secrets in the result (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave the record
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_filters() -> None:
    """Attach the filter once per process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    flt = SecretFilter()
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(flt)
