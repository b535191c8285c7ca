"""The inbound-webhook URL: parsed once, its token registered as a secret, never shown."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from identsync.bitrix24.redact import register_secret

__all__ = ["WebhookAddress"]

_WEBHOOK_PATH = re.compile(r"^(?P<prefix>.*?)/rest/(?P<user>\d+)/(?P<token>[^/]+)/?$")


class WebhookAddress:
    """A parsed inbound-webhook URL. Its repr shows the portal and user, never the token."""

    __slots__ = ("scheme", "host", "user_id", "_token", "_base")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.strip())
        m = _WEBHOOK_PATH.match(parts.path or "")
        if parts.scheme not in ("http", "https") or not parts.netloc or not m:
            # Deliberately no URL in the message: it would carry the token.
            raise ValueError(
                "not a Bitrix24 inbound webhook URL; expected "
                "https://<portal>/rest/<user_id>/<token>/"
            )
        self.scheme = parts.scheme
        self.host = parts.netloc.rsplit("@", 1)[-1]
        self.user_id = m.group("user")
        self._token = m.group("token")
        self._base = f"{parts.scheme}://{parts.netloc}{m.group('prefix')}/rest/{self.user_id}/{self._token}/"
        register_secret(self._token)

    @property
    def token(self) -> str:
        return self._token

    def method_url(self, method: str) -> str:
        return self._base + method

    def __repr__(self) -> str:
        return f"WebhookAddress(host={self.host!r}, user_id={self.user_id!r})"
