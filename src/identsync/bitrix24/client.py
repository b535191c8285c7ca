"""Bitrix24Client: the one place HTTP to the portal happens.

Every request goes through :meth:`Bitrix24Client._request`: leaky bucket, POST (a form body
encoded like PHP ``http_build_query``), classification of the answer into a typed error,
and retries decided by that type:

* reads (and batches whose every command is a read) are retried on timeouts, connection
  errors, 5xx and 503;
* writes are retried only when the portal cannot have applied them: a connection refused
  before anything was sent, 503 QUERY_LIMIT_EXCEEDED and 429 OPERATION_TIME_LIMIT (the
  limiter rejects the request before any method runs, so nothing was executed). Anything that
  may have reached the portal (a read timeout, a dropped connection, a 5xx) raises with
  ``maybe_applied=True`` and is left to the caller, who can look before writing again.
* 401/403, 404 ERROR_METHOD_NOT_FOUND, OVERLOAD_LIMIT and 400 fail at once.

Nothing here logs a URL, a token or a parameter value: INFO lines carry method names,
command counts, elapsed time and limiter waits; DEBUG adds parameter keys.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from identsync import cputime
from identsync.bitrix24.address import WebhookAddress
from identsync.bitrix24.batch import (
    BatchResult,
    Command,
    method_of,
    normalise_batch,
    not_sent,
    plan_requests,
    prepare_commands,
    render,
)
from identsync.bitrix24.classify import classify, is_read_method, never_sent, root_cause
from identsync.bitrix24.encoding import encode_command, encode_params
from identsync.bitrix24.ratelimit import RateLimiter, plan_limits, shared_bucket
from identsync.bitrix24.redact import scrub
from identsync.bitrix24.stats import ClientStats
from identsync.errors import (
    Bitrix24Error,
    Bitrix24OperationTimeLimit,
    Bitrix24RateLimited,
    Bitrix24ServerError,
    Bitrix24TransportError,
    CommandError,
)

__all__ = ["Bitrix24Client", "Page"]

log = logging.getLogger("identsync.bitrix24")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of a list method: rows, the ``next`` offset (None at the end), ``total``."""

    result: Any
    next: int | None
    total: int | None


def _method_summary(methods: Counter[str]) -> str:
    return ", ".join(f"{m} x{n}" if n > 1 else m for m, n in methods.items())


class Bitrix24Client:
    """Plain Bitrix24 REST client over an inbound webhook (no Airflow needed).

    :param webhook_url: ``https://<portal>/rest/<user_id>/<token>/``.
    :param plan: "standard", "enterprise" or "unlimited" (no client-side throttling).
    :param timeout: seconds, or (connect, read).
    :param session: a ``requests.Session`` to reuse (one is created otherwise).
    :param bucket: a limiter; by default the process-wide one for this portal and plan.
        Under Airflow pass ``identsync.state.ratelimit.shared_pg_bucket(...)``: every task
        process (and every Celery host) then shares one bucket per portal.
    :param max_read_attempts: attempts (first try included) for anything retriable.
    :param backoff: base seconds of the exponential backoff (jitter up to the same amount).
    :param max_operating_wait: longest wait for an OPERATION_TIME_LIMIT reset.
    :param operating_backoff: first wait after a 429 that names no reset moment (doubles,
        capped at 60 s).
    :param clock: monotonic seconds (elapsed times); ``wall_clock``: unix time (reset_at).
    :param sleep: used for backoff waits.
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        plan: str = "standard",
        timeout: float | tuple[float, float] = (5.0, 60.0),
        session: requests.Session | None = None,
        bucket: RateLimiter | None = None,
        max_read_attempts: int = 5,
        backoff: float = 0.5,
        max_operating_wait: float = 600.0,
        operating_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._address = WebhookAddress(webhook_url)
        plan_limits(plan)  # validates the name
        if max_read_attempts < 1:
            raise ValueError("max_read_attempts must be at least 1")
        self.plan = plan
        self.timeout = timeout
        self.max_read_attempts = max_read_attempts
        self.backoff = backoff
        self.max_operating_wait = max_operating_wait
        self.operating_backoff = operating_backoff
        self._session = session or requests.Session()
        self._bucket = bucket if bucket is not None else shared_bucket(
            self._address.host, self._address.user_id, plan
        )
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self.stats = ClientStats()

    # -- public API -------------------------------------------------------------------------

    @property
    def portal(self) -> str:
        """The portal host (safe to log)."""
        return self._address.host

    @property
    def user_id(self) -> str:
        return self._address.user_id

    def __repr__(self) -> str:
        return f"Bitrix24Client(portal={self.portal!r}, user_id={self.user_id!r}, plan={self.plan!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Bitrix24Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one method; return its ``result`` value."""
        return self._call(method, params).get("result")

    def call_page(self, method: str, params: Mapping[str, Any] | None = None) -> Page:
        """Call a list method; return the rows with ``next`` and ``total``."""
        body = self._call(method, params)
        return Page(body.get("result"), _opt_int(body.get("next")), _opt_int(body.get("total")))

    def batch(self, commands: Mapping[str, Command], halt: bool = False) -> BatchResult:
        """Run any number of commands, 50 per request, references kept working.

        :param commands: key -> (method, params) or key -> "method?query". Keys must be
            strings that are not integers ("c1", not "1"). In (method, params) a reference
            to another command is a ``Ref`` value; every string is sent as typed (one the
            portal would rewrite, such as staff text holding ``$result[x]``, goes as a plain
            call instead of inside the batch).
        :param halt: stop at the first failing command (also skips later requests; their
            commands are reported as NO_RESULT errors).
        A reference group larger than one request is sent in dependency order: commands
        referenced from a later request are sent first and their results substituted
        client-side; a command whose referenced command failed is not sent (error
        REFERENCE_FAILED). If a request fails as a whole, the raised error carries
        ``partial`` (the merged BatchResult of the earlier requests) and ``command_keys``
        (the keys of the failed request), so a caller can tell what was applied; nothing
        after it is sent. It says ``maybe_applied`` when the failed request may have run,
        or when an earlier request of the call wrote something.
        """
        prepared = prepare_commands(commands)
        out = BatchResult()
        plan = plan_requests(prepared)
        started = self._clock()
        plain = 0
        for req in plan:
            if halt and out.errors:
                out.merge(not_sent({k: prepared[k].method for k in req.keys},
                                   "not sent: an earlier request of this halted batch failed"))
                continue
            here: set[str] = set()
            chunk: dict[str, Any] = {}
            for key in req.keys:
                sent = render(prepared[key], here, out)
                if isinstance(sent, CommandError):
                    out.errors[key] = sent
                    continue
                here.add(key)
                chunk[key] = sent
            if not chunk:
                continue
            try:
                if req.plain:
                    plain += 1
                    (key, (method, params)), = chunk.items()
                    out.merge(self._plain_command(key, method, params))
                else:
                    out.merge(self._batch_request(
                        {k: p if prepared[k].raw is not None else encode_command(m, p)
                         for k, (m, p) in chunk.items()}, halt))
            except Bitrix24Error as exc:
                exc.partial = out
                exc.command_keys = tuple(req.keys)
                if not exc.maybe_applied and any(
                        not is_read_method(prepared[k].method) for k in out.results):
                    # Earlier requests of this call did write: to the caller the call is
                    # partly applied, whatever this request's own failure says.
                    exc.maybe_applied = True
                    exc.args = (exc._message(),)
                raise
        if len(plan) > 1:
            log.info(
                "bitrix24 batch: %d commands in %d requests (%d plain calls), %d errors, %.2fs",
                len(prepared), len(plan), plain, len(out.errors), self._clock() - started,
            )
        return out

    def _plain_command(self, key: str, method: str, params: Any) -> BatchResult:
        """One command sent outside the batch, its answer filed under its key as a batch
        would. A refusal (the portal answered with an error for this method) is that
        command's error; anything that may have been applied, or that no retry can help,
        is raised as for a failed batch request."""
        log.info("bitrix24 %s (command %s) sent as a plain call: its text holds a batch "
                 "reference the portal would rewrite", method, key)
        try:
            body = self._call(method, params)
        except Bitrix24Error as exc:
            if type(exc) is not Bitrix24Error:  # auth, 5xx, transport, limits: the request's
                raise
            return BatchResult(errors={key: CommandError(
                key, exc.code, exc.description, method=method, http_status=exc.http_status)})
        out = BatchResult(results={key: body.get("result")})
        if (total := _opt_int(body.get("total"))) is not None:
            out.totals[key] = total
        if (nxt := _opt_int(body.get("next"))) is not None:
            out.nexts[key] = nxt
        if isinstance(body.get("time"), Mapping):
            out.times[key] = body["time"]
        return out

    def list_all(
        self,
        method: str,
        filter: Mapping[str, Any] | None = None,  # noqa: A002 - the portal's own name
        select: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row of a classic ``*.list`` method, fast paging by ID without counting.

        Sends ``order[ID]=ASC``, ``filter[>ID]=<last ID>``, ``start=-1`` and stops on a page
        shorter than 50 rows.
        """
        flt = dict(filter or {})
        last = _opt_int(flt.pop(">ID", None)) or 0
        sel = list(select) if select else None
        if sel and "ID" not in sel and "*" not in sel:
            sel.append("ID")  # we page by it
        while True:
            params: dict[str, Any] = {
                "order": {"ID": "ASC"},
                "filter": {**flt, ">ID": last},
                "start": -1,
            }
            if sel:
                params["select"] = sel
            rows = self.call(method, params) or []
            if isinstance(rows, Mapping):  # rows keyed by index (a PHP object): keep the order
                rows = list(rows.values())
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            last = int(rows[-1]["ID"])

    # -- the chokepoint ---------------------------------------------------------------------

    def _call(self, method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        if method.lower().removesuffix(".json") == "batch":
            raise ValueError("use batch() for batch requests")
        body = encode_params(params)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("bitrix24 %s keys=%s", method, sorted(params or {}))
        return self._request(method, body, is_read=is_read_method(method), methods=Counter([method]))

    def _batch_request(self, chunk: dict[str, str], halt: bool) -> BatchResult:
        methods = Counter(method_of(c) for c in chunk.values())
        is_read = all(is_read_method(m) for m in methods)
        body = encode_params({"halt": 1 if halt else 0, "cmd": chunk})
        if log.isEnabledFor(logging.DEBUG):
            log.debug("bitrix24 batch keys=%s", list(chunk))
        answer = self._request(
            "batch", body, is_read=is_read, methods=methods, commands=len(chunk)
        )
        inner = answer.get("result")
        return normalise_batch(inner if isinstance(inner, Mapping) else {}, chunk)

    def _request(
        self,
        method: str,
        body: str,
        *,
        is_read: bool,
        methods: Counter[str],
        commands: int = 1,
    ) -> dict[str, Any]:
        retrying = Retrying(
            retry=retry_if_exception(lambda e: self._should_retry(e, is_read)),
            stop=stop_after_attempt(self.max_read_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(self._attempt, method, body, is_read, methods, commands)

    def _attempt(
        self, method: str, body: str, is_read: bool, methods: Counter[str], commands: int
    ) -> dict[str, Any]:
        if self._bucket is not None:
            waited = self._bucket.acquire()
            if waited > 0:
                self.stats.waited(waited)
                log.info("bitrix24 limiter: waited %.2fs before %s", waited, method)
        self.stats.request(methods, commands)
        started = self._clock()
        status, answer = self._post(method, body, is_read)
        elapsed = self._clock() - started
        if status == 200 and isinstance(answer, dict) and "error" not in answer:
            if method == "batch":
                log.info("bitrix24 batch: %d commands (%s) in %.2fs", commands,
                         _method_summary(methods), elapsed)
            else:
                log.info("bitrix24 %s in %.2fs", method, elapsed)
            return answer
        err = classify(method, status, answer, is_read=is_read)
        if isinstance(err, Bitrix24RateLimited) and self._bucket is not None:
            self._bucket.fill()  # someone else shares the portal: slow everybody down
        raise err

    def _post(self, method: str, body: str, is_read: bool) -> tuple[int, Any]:
        failure: Bitrix24TransportError | None = None
        cputime.mark("first_request")  # where a task's set-up ends (identsync.cputime)
        try:
            resp = self._session.post(
                self._address.method_url(method),
                data=body.encode("ascii"),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            # A read timeout or a dropped connection means the request went out: the portal
            # may be running it. Only a failure to connect proves nothing was sent.
            if isinstance(exc, requests.ConnectTimeout):
                sent = False
            elif isinstance(exc, requests.ConnectionError):
                sent = not never_sent(exc)
            else:
                sent = True
            failure = self._transport_error(method, exc, maybe_applied=sent and not is_read)
        if failure is not None:
            # Raised outside the except block so the requests exception (whose text quotes
            # the URL, token included) is not even kept as __context__.
            raise failure
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        finally:
            resp.close()
        return resp.status_code, answer

    def _transport_error(
        self, method: str, exc: BaseException, *, maybe_applied: bool
    ) -> Bitrix24TransportError:
        # requests' messages quote the URL (token included): keep the exception type and the
        # innermost reason, scrubbed.
        if isinstance(exc, requests.ReadTimeout):
            what = "no answer in time after the request was sent"
        elif isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ConnectTimeout):
            what = "connection failed before sending" if never_sent(exc) else "connection dropped"
        elif isinstance(exc, requests.ConnectTimeout):
            what = "connect timed out before sending"
        else:
            what = "transport failure"
        reason = scrub(str(root_cause(exc)))
        reason = re.sub(r"url: \S+", "url: <webhook>", reason).replace(self._address.token, "***")
        return Bitrix24TransportError(
            type(exc).__name__, f"{what} ({reason})", method=method, maybe_applied=maybe_applied
        )

    # -- retry policy -----------------------------------------------------------------------

    def _should_retry(self, exc: BaseException, is_read: bool) -> bool:
        if isinstance(exc, Bitrix24RateLimited):
            return True  # rejected by the limiter before running: safe for writes too
        if isinstance(exc, Bitrix24OperationTimeLimit):
            return self._operating_wait(exc) <= self.max_operating_wait
        if isinstance(exc, Bitrix24TransportError):
            return is_read or not exc.maybe_applied
        if isinstance(exc, Bitrix24ServerError):
            return is_read
        return False

    def _operating_wait(self, exc: Bitrix24OperationTimeLimit, attempt: int = 1) -> float:
        if exc.reset_at is not None:
            return max(0.0, exc.reset_at - self._wall_clock()) + 1.0
        return min(60.0, self.operating_backoff * 2 ** (attempt - 1))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        attempt = state.attempt_number
        if isinstance(exc, Bitrix24OperationTimeLimit):
            return self._operating_wait(exc, attempt)
        base = self.backoff
        if isinstance(exc, Bitrix24RateLimited) and self._bucket is not None:
            base = max(base, 1.0 / self._bucket.drain_per_second)
        return min(30.0, base * 2 ** (attempt - 1)) + random.uniform(0, base)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.stats.retried()
        if isinstance(exc, (Bitrix24RateLimited, Bitrix24OperationTimeLimit)):
            self.stats.waited(wait)
        log.warning(
            "bitrix24 %s: %s, attempt %d of %d, retrying in %.2fs",
            getattr(exc, "method", "?"), _short(exc), state.attempt_number,
            self.max_read_attempts, wait,
        )


def _short(exc: BaseException | None) -> str:
    if isinstance(exc, Bitrix24Error):
        return f"{type(exc).__name__} {exc.code or ''}".strip()
    return type(exc).__name__


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
