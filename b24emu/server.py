"""HTTP front of the emulator: ThreadingHTTPServer, /rest/ routing, limits and faults.

No URL is ever logged: the webhook token sits in the path.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import random
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from b24emu import admin
from b24emu.batch import inner_methods, run_batch
from b24emu.config import Config
from b24emu.dispatch import Dispatcher
from b24emu.faults import FaultInjector
from b24emu.limits import LeakyBucket, OperatingTime
from b24emu.phpjson import dumps
from b24emu.phpquery import from_json, parse_str
from b24emu.stats import Stats
from b24emu.store import Portal, SqliteStore

log = logging.getLogger("b24emu")

_REST_PATH = re.compile(r"^/rest/([^/]*)/([^/]*)/?(.*)$")
NO_AUTH = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
QUERY_LIMIT = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "b24emu"
    sys_version = ""
    server: _HTTPServer
    timeout = 300  # idle keep-alive connections give their thread back eventually
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: the request line contains the webhook token."""

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, verb: str) -> None:
        path, _sep, query = self.path.partition("?")
        body = self._read_body()
        emu = self.server.emu
        if path.startswith("/_emu/"):
            status, payload = admin.handle(emu, verb, path, query, body)
            self.send_json(status, payload, php=False)
        elif path.startswith("/rest/"):
            emu.handle_rest(self, path, query, body)
        else:
            self.send_json(404, {"error": "NOT_FOUND", "error_description": "Not found"})

    def send_json(self, status: int, payload: Any, php: bool = True) -> None:
        data = dumps(payload) if php else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        """Close the socket without a byte of response (a dropped connection)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of parallel clients overflowed the
    # accept queue and got resets or stalled connections, which a portal's front (nginx:
    # 511) never gives. The kernel caps it at net.core.somaxconn.
    request_queue_size = 1024
    emu: EmulatorServer

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_all(self) -> None:
        """Cut keep-alive connections so a stopped portal really stops answering."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorServer:
    """One emulated portal with one inbound webhook (``/rest/<user_id>/<token>/``)."""

    def __init__(self, token: str = "T", user_id: int = 1, plan: str = "unlimited",
                 port: int = 0, host: str = "127.0.0.1", state_path: str | None = None,
                 latency_ms: float = 0, jitter_ms: float = 0, seed: int = 0,
                 faults: dict[str, Any] | None = None, operating_limit_s: float = 0,
                 keep_undeclared_fields: bool = True, **config: Any) -> None:
        self.token = token
        self.user_id = int(user_id)
        self.host = host
        self._port = port
        self.config = Config(plan=plan, latency_ms=float(latency_ms),
                             jitter_ms=float(jitter_ms),
                             operating_limit_s=float(operating_limit_s), **config)
        self._initial_config = self.config.as_dict()
        self._state_path = state_path
        self.portal = Portal(state_path)
        # A portal drops UF_CRM_* fields it does not declare (the CLI emulator does too);
        # in-process servers keep them unless asked, for set-ups that declare none.
        self.portal.keep_undeclared_fields = bool(keep_undeclared_fields)
        self.stats = Stats()
        self.bucket = LeakyBucket()
        self.operating = OperatingTime()
        self.faults = FaultInjector(seed)
        self._initial_faults = copy.deepcopy(faults) if faults else None
        if faults:
            self.faults.configure(faults)
        self.dispatcher = Dispatcher(self.portal, self.config, self.stats, self.operating,
                                     self.faults)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        self._stopping.clear()
        if self._state_path and self.portal.sqlite is None:  # restarted after stop()
            self.portal.sqlite = SqliteStore(self._state_path)
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.emu = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=f"b24emu:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_all()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.portal.close()

    def __enter__(self) -> EmulatorServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/rest/{self.user_id}/{self.token}/"

    @property
    def control(self):
        """The admin client (b24emu.control) pointed at this server."""
        from b24emu.control import EmulatorControl

        return EmulatorControl(self.base_url)

    def __repr__(self) -> str:  # never show the token
        return f"EmulatorServer(base_url={self.base_url!r}, plan={self.config.plan!r})"

    # admin -----------------------------------------------------------------------------
    def reset(self, what: str = "all") -> list[str]:
        """Reset parts: all (= entities, stats, faults, limits), or a comma list of
        entities|stats|faults|limits|config."""
        parts: set[str] = set()
        for item in str(what).split(","):
            item = item.strip().lower()
            if item == "all":
                parts |= {"entities", "stats", "faults", "limits"}
            elif item in admin.RESET_PARTS:
                parts.add(item)
            elif item:
                raise ValueError(f"cannot reset {item!r}; use all or {admin.RESET_PARTS}")
        if "entities" in parts:
            self.portal.reset()
        if "stats" in parts:
            self.stats.reset()
        if "faults" in parts:
            self.faults.clear()
        if "limits" in parts:
            self.bucket.reset()
            self.operating.reset()
        if "config" in parts:
            self.config.update(self._initial_config)
        return sorted(parts)

    def stats_snapshot(self) -> dict[str, Any]:
        snap = self.stats.snapshot()
        snap["bucket_level"] = round(self.bucket.level(self._webhook_key(), self.config.plan), 3)
        with self.portal.lock:
            snap["entities"] = {k: len(t) for k, t in self.portal.tables.items()}
        return snap

    def dump(self, entity: str) -> Any:
        if entity == "userfield":
            with self.portal.lock:
                return copy.deepcopy(self.portal.userfields)
        if entity not in self.portal.tables:
            raise ValueError("entity must be contact, deal, comment or userfield")
        with self.portal.lock:
            table = self.portal.tables[entity]
            return [copy.deepcopy(table.rows[i]) for i in table.ids]

    # REST ------------------------------------------------------------------------------
    def _webhook_key(self) -> str:
        return f"{self.user_id}"

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _latency(self) -> float:
        base = self.config.latency_ms
        jitter = self.config.jitter_ms
        if jitter > 0:
            with self._rng_lock:
                base += self._rng.uniform(0, jitter)
        return base / 1000.0

    def _params(self, handler: _Handler, query: str, body: bytes) -> dict[str, Any]:
        params = parse_str(query)
        ctype = (handler.headers.get("Content-Type") or "").lower()
        if body:
            text = body.decode("utf-8", errors="replace")
            if "json" in ctype:
                try:
                    decoded = from_json(json.loads(text))
                except json.JSONDecodeError:
                    decoded = {}
                if isinstance(decoded, dict):
                    params.update(decoded)
            else:
                params.update(parse_str(text))
        return params

    def handle_rest(self, handler: _Handler, path: str, query: str, body: bytes) -> None:
        seq = self.stats.request()
        m = _REST_PATH.match(path)
        user_part, token_part, method = (m.group(1), m.group(2), m.group(3)) if m else ("", "",
                                                                                       "")
        authorised = user_part == str(self.user_id) and hmac.compare_digest(
            token_part.encode(), self.token.encode())
        if not authorised:
            self.stats.auth_failed()
            self._reply(handler, 401, NO_AUTH)
            return
        method = method.strip("/")
        for suffix in (".json", ".xml"):
            if method.lower().endswith(suffix):
                method = method[: -len(suffix)]
        method = method.lower()
        params = self._params(handler, query, body)
        inner = inner_methods(params) if method == "batch" else []
        fault, source = self.faults.decide(method, inner)
        if fault:
            self.stats.fault(fault, method, seq, source)
        self._sleep(self._latency())
        if fault == "drop":
            self.stats.status(0)
            handler.drop()
            return
        if fault == "http_500":
            self._reply(handler, 500, INTERNAL)
            return
        if fault == "http_503":
            self._reply(handler, 503, QUERY_LIMIT)
            return
        if fault == "slow":
            self._sleep(self.faults.slow_s)
        if not self.bucket.try_acquire(self._webhook_key(), self.config.plan):
            self.stats.rejected(503)
            self._reply(handler, 503, QUERY_LIMIT)
            return
        status, payload = self._execute(method, params)
        if fault == "applied_then_500":
            self._reply(handler, 500, INTERNAL)
        elif fault == "applied_then_drop":
            self.stats.status(0)
            handler.drop()
        else:
            self._reply(handler, status, payload)

    def _execute(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "batch":
            self.stats.command("batch")
            value, time_block = run_batch(self.dispatcher, params, self.user_id)
            return 200, {"result": value, "time": time_block}
        outcome = self.dispatcher.call(method, params, self.user_id)
        if outcome.error is not None:
            return outcome.error.status, outcome.error.body()
        assert outcome.result is not None
        payload: dict[str, Any] = {"result": outcome.result.value}
        if outcome.result.next is not None:
            payload["next"] = outcome.result.next
        if outcome.result.total is not None:
            payload["total"] = outcome.result.total
        payload["time"] = outcome.time
        return 200, payload

    def _reply(self, handler: _Handler, status: int, payload: Any) -> None:
        self.stats.status(status)
        try:
            handler.send_json(status, payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow fault)
