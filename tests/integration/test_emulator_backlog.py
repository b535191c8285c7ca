"""The emulator's front takes a burst of parallel clients as a portal's front does (issue 21, 4).

Python's socketserver listens with a backlog of 5: a burst of parallel connections then
overflowed the accept queue and clients got "connection reset by peer" (or waited out a SYN
retransmission), which parallel worker tests misread as lost answers. Now every client of a
64-wide burst gets an HTTP answer: 200, or the portal's own 503 when its bucket is full.
"""

from __future__ import annotations

import http.client
import threading

from b24emu.server import EmulatorServer

CLIENTS = 64
BURSTS = 3


def _burst(emu: EmulatorServer) -> list[object]:
    """CLIENTS new connections at once, each one request; the status or the exception."""
    start = threading.Barrier(CLIENTS)
    results: list[object] = [None] * CLIENTS

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
        try:
            start.wait()
            conn.request("GET", f"/rest/{emu.user_id}/{emu.token}/profile")
            results[i] = conn.getresponse().status
        except Exception as exc:  # noqa: BLE001 - the test reports what each client saw
            results[i] = exc
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_listen_backlog_is_a_real_servers() -> None:
    emu = EmulatorServer(token="backlog-T", plan="standard").start()
    try:
        assert emu._httpd is not None
        assert emu._httpd.request_queue_size >= 128
    finally:
        emu.stop()


def test_burst_of_64_parallel_clients_all_get_an_http_answer() -> None:
    emu = EmulatorServer(token="backlog-T", plan="standard").start()
    try:
        for burst in range(BURSTS):
            results = _burst(emu)
            failed = [r for r in results if not isinstance(r, int)]
            assert not failed, f"burst {burst}: {len(failed)} of {CLIENTS} without an HTTP " \
                               f"answer, e.g. {failed[0]!r}"
            assert set(results) <= {200, 503}, results
    finally:
        emu.stop()
