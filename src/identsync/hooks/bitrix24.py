"""Bitrix24Hook: an Airflow Connection turned into a :class:`Bitrix24Client`.

Connection type ``bitrix24`` (the "Bitrix24" entry of the UI's connection form, registered by
``identsync.provider``): ``password`` = the whole inbound webhook URL,
``https://portal.bitrix24.ru/rest/1/TOKEN/`` (the token is in the path, so the URL is the
secret), ``extra.plan`` = the portal's plan.

Connections of type ``http`` keep working, either form:

* ``host`` = the whole inbound webhook URL, ``https://portal.bitrix24.ru/rest/1/TOKEN/``
  (a URI-style connection ``http://portal.bitrix24.ru/rest/1/TOKEN/``, whose path Airflow
  moves into ``schema``, is read as the same https URL);
* ``host`` = the portal (``portal.bitrix24.ru`` or ``https://portal.bitrix24.ru``),
  ``password`` = the webhook token, ``login`` or extra ``user_id`` = the webhook's user id;
  optional ``schema`` (``http``/``https``, default https) and ``port``.

``extra`` may hold ``plan`` ("standard" | "enterprise" | "unlimited") and ``timeout``
(seconds, or ``[connect, read]``). Unlike HttpHook, nothing in ``extra`` becomes an HTTP header.
Hook arguments win over extras. The token is registered with Airflow's secret masker before
anything is logged; messages name the connection id, never the URL or token.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from identsync.bitrix24.address import WebhookAddress
from identsync.bitrix24.batch import BatchResult, Command
from identsync.bitrix24.client import Bitrix24Client
from identsync.bitrix24.ratelimit import PLANS
from identsync.bitrix24.redact import register_secret, scrub
from identsync.errors import Bitrix24Error
from identsync.state.ratelimit import shared_pg_bucket

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk import Connection

__all__ = ["Bitrix24Hook"]


def _mask(secret: str) -> None:
    """Register ``secret`` with Airflow's masker (task logs) and with our own log filter."""
    register_secret(secret)
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # an Airflow without the task SDK: our own filter still applies
        return
    try:
        mask_secret(secret)
    except Exception:  # masking must never be the reason a task fails
        pass


class Bitrix24Hook(BaseHook):
    """Thin adapter: reads the Connection lazily and hands out one cached client.

    :param bitrix24_conn_id: Airflow connection id.
    :param plan: overrides the connection's ``extra.plan``.
    :param default_plan: used when neither ``plan`` nor the connection names one (the sync
        passes its configuration's ``portal_plan``); "standard" otherwise.
    :param timeout: overrides ``extra.timeout`` (seconds or (connect, read)).
    :param state_dsn: the sync-state database: when given, the client's leaky bucket lives
        there, shared by every task process and worker host (``identsync_rate_limits``);
        otherwise it is this process's own.
    """

    conn_name_attr = "bitrix24_conn_id"
    default_conn_name = "bitrix24_default"
    conn_type = "bitrix24"
    hook_name = "Bitrix24"

    def __init__(
        self,
        bitrix24_conn_id: str = default_conn_name,
        *,
        plan: str | None = None,
        default_plan: str = "standard",
        timeout: float | tuple[float, float] | None = None,
        state_dsn: str | None = None,
    ) -> None:
        super().__init__()
        self.bitrix24_conn_id = bitrix24_conn_id
        self._plan = plan
        self._default_plan = default_plan
        self._timeout = timeout
        self._state_dsn = state_dsn

    @cached_property
    def connection(self) -> Connection:
        return self.get_connection(self.bitrix24_conn_id)

    def _fail(self, why: str) -> ValueError:
        return ValueError(f"Bitrix24 connection {self.bitrix24_conn_id!r}: {why}")

    @cached_property
    def webhook_url(self) -> str:
        """The webhook URL assembled from the connection (secret: never log it)."""
        conn = self.connection
        host = (conn.host or "").strip()
        password = (conn.password or "").strip()
        url_form = "/rest/" in password or (not host and conn.conn_type == self.conn_type)
        if url_form:  # the Bitrix24 form: the whole URL is the secret (password) field
            if not password:
                raise self._fail("the webhook URL is empty; put "
                                 "https://<portal>/rest/<user_id>/<token>/ into Webhook URL")
            _mask(password)
            return self._url_from(password, "the webhook URL")
        if not host:
            raise self._fail("host is empty; put the webhook URL or the portal host there")
        schema = (conn.schema or "").strip("/")
        if "/rest/" not in host and schema.startswith("rest/"):
            # URI-style connections put the URL path into `schema`: glue it back (https).
            netloc = f"{host}:{conn.port}" if conn.port else host
            host = f"{netloc}/{schema}/"
        if "/rest/" in host:
            if conn.password:
                _mask(conn.password)
            return self._url_from(host, "host")
        token = conn.password or ""
        if not token:
            raise self._fail("no webhook token: set password, or put the full URL in host")
        _mask(token)
        user_id = str(conn.login or self._extras.get("user_id") or "").strip()
        if not user_id.isdigit():
            raise self._fail("the webhook user id (login or extra user_id) must be a number")
        if "://" in host:
            parts = urlsplit(host)
            scheme, netloc = parts.scheme, parts.netloc
        else:
            scheme, netloc = (conn.schema or "https"), host.strip("/")
        if scheme not in ("http", "https"):
            raise self._fail(f"unsupported scheme {scheme!r}")
        if conn.port and ":" not in netloc:
            netloc = f"{netloc}:{conn.port}"
        return f"{scheme}://{netloc}/rest/{user_id}/{token}/"

    def _url_from(self, value: str, field: str) -> str:
        """A whole webhook URL (from host or password), its token masked first."""
        url = value if "://" in value else f"https://{value}"
        try:
            token = WebhookAddress(url).token
        except ValueError:
            raise self._fail(
                f"{field} does not look like https://<portal>/rest/<user_id>/<token>/"
            ) from None
        _mask(token)
        return url

    @cached_property
    def _extras(self) -> dict[str, Any]:
        extra = self.connection.extra_dejson
        return extra if isinstance(extra, dict) else {}

    @cached_property
    def plan(self) -> str:
        # The portal's plan is a fact about the portal: the connection knows it best.
        plan = self._plan if self._plan is not None else (
            self._extras.get("plan") or self._default_plan)
        if plan not in PLANS:
            raise self._fail(f"unknown plan {plan!r}; expected one of {sorted(PLANS)}")
        return plan

    @cached_property
    def timeout(self) -> float | tuple[float, float]:
        raw = self._timeout if self._timeout is not None else self._extras.get("timeout")
        if raw is None:
            return (5.0, 60.0)
        try:
            if isinstance(raw, (list, tuple)):
                connect, read = (float(x) for x in raw)
                return (connect, read)
            return float(raw)
        except (TypeError, ValueError):
            raise self._fail("extra timeout must be seconds or [connect, read]") from None

    @cached_property
    def client(self) -> Bitrix24Client:
        url = self.webhook_url  # masks the token first
        bucket = None
        if self._state_dsn:
            address = WebhookAddress(url)
            bucket = shared_pg_bucket(self._state_dsn, address.host, address.user_id, self.plan)
        client = Bitrix24Client(url, plan=self.plan, timeout=self.timeout, bucket=bucket)
        self.log.info(
            "Bitrix24 connection %s: portal %s, plan %s, limiter %s", self.bitrix24_conn_id,
            client.portal, self.plan, "shared (sync-state database)" if bucket else "local",
        )
        return client

    def get_conn(self) -> Bitrix24Client:
        """The cached client (one requests.Session for the hook's lifetime)."""
        return self.client

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.client.call(method, params)

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult:
        return self.client.batch(commands, halt=halt)

    def test_connection(self) -> tuple[bool, str]:
        """Call ``profile`` (the cheapest authenticated read)."""
        try:
            profile = self.client.call("profile")
        except Bitrix24Error as exc:
            return False, f"Bitrix24 connection {self.bitrix24_conn_id!r}: {scrub(str(exc))}"
        except ValueError as exc:  # our configuration messages: already token-free
            return False, scrub(str(exc))
        except Exception as exc:
            return False, f"Bitrix24 connection {self.bitrix24_conn_id!r}: {type(exc).__name__}"
        user = profile.get("ID") if isinstance(profile, dict) else None
        return True, (
            f"Bitrix24 connection {self.bitrix24_conn_id!r}: connected to {self.client.portal}"
            f" as user {user}"
        )
