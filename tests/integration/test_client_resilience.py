"""Limits, retries and fail-fast behaviour of Bitrix24Client against the emulator."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from identsync.bitrix24 import (
    Bitrix24AuthError,
    Bitrix24Client,
    Bitrix24MethodNotFound,
    Bitrix24ServerError,
    Bitrix24TransportError,
)
from identsync.bitrix24.ratelimit import LeakyBucket


def script(method: str, fault: str, **kw: Any) -> dict[str, Any]:
    return {"script": [{"method": method, "fault": fault, "times": 1, **kw}]}


@pytest.fixture
def client(emulator: Any) -> Bitrix24Client:
    with Bitrix24Client(emulator.webhook_url, plan="unlimited", backoff=0.01) as c:
        yield c


def test_burst_of_reads_is_paced_so_no_503_reaches_the_portal(make_emulator: Any) -> None:
    """60 reads from 4 threads on plan standard: 48 at once, then 2/s (about 6 s)."""
    emu = make_emulator(plan="standard")
    bucket = LeakyBucket.for_plan("standard")
    client = Bitrix24Client(emu.webhook_url, plan="standard", bucket=bucket)
    results: list[Any] = []
    lock = threading.Lock()

    def reader() -> None:
        for _ in range(15):
            r = client.call("profile")
            with lock:
                results.append(r)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    stats = emu.control.stats()
    assert len(results) == 60 and all(r["ID"] == "1" for r in results)
    assert stats["limit_rejections"]["503"] == 0
    assert stats["by_status"] == {"200": 60}
    assert client.stats.limit_waits > 0 and client.stats.retries == 0
    print(f"60 paced reads took {elapsed:.1f}s, waited {client.stats.wait_seconds:.1f}s")


def test_burst_of_300_reads_on_enterprise_plan_never_meets_a_503(make_emulator: Any) -> None:
    """The issue's figure: 300 reads at once from 6 threads. Enterprise (250, 5/s) keeps the
    test near 10 s; the pacing logic is the same one the standard plan test above uses."""
    emu = make_emulator(plan="enterprise")
    client = Bitrix24Client(emu.webhook_url, plan="enterprise",
                            bucket=LeakyBucket.for_plan("enterprise"))
    done: list[int] = []
    lock = threading.Lock()

    def reader() -> None:
        for _ in range(50):
            client.call("crm.deal.list", {"select": ["ID"]})
            with lock:
                done.append(1)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = emu.control.stats()
    assert len(done) == 300
    assert stats["limit_rejections"]["503"] == 0 and stats["by_status"] == {"200": 300}
    assert client.stats.limit_waits > 0 and client.stats.retries == 0


def test_query_limit_503_on_a_write_is_retried_once_applied_once(
    client: Bitrix24Client, emulator: Any
) -> None:
    # The limiter answers before any method runs, so repeating the write is safe.
    emulator.control.faults(script("crm.deal.add", "http_503"))
    deal_id = client.call("crm.deal.add", {"fields": {"TITLE": "once"}})
    assert [d["ID"] for d in emulator.control.dump("deal")] == [str(deal_id)]
    assert emulator.control.stats()["http_requests"] == 2 and client.stats.retries == 1


def test_operation_time_limit_429_is_waited_out(make_emulator: Any) -> None:
    # Each call costs 1 s of "operating time"; the budget is 1 s per 2 s window.
    emu = make_emulator(operating_limit_s=1, operating_per_call_s=1, operating_window_s=2)
    client = Bitrix24Client(emu.webhook_url, plan="unlimited", operating_backoff=0.5)
    assert client.call("crm.deal.list") == []
    assert client.call("crm.deal.list") == []  # blocked first, then allowed after the window
    stats = emu.control.stats()
    assert stats["limit_rejections"]["429"] >= 1
    assert stats["by_status"]["200"] == 2
    assert client.stats.retries == stats["limit_rejections"]["429"]


def test_wrong_token_fails_fast_without_retries(emulator: Any) -> None:
    bad_url = emulator.webhook_url.replace(emulator.token, "wrong-token-0000")
    client = Bitrix24Client(bad_url, plan="unlimited", backoff=0.01)
    with pytest.raises(Bitrix24AuthError) as info:
        client.call("profile")
    assert info.value.http_status == 401 and info.value.code == "NO_AUTH_FOUND"
    assert "wrong-token-0000" not in str(info.value) + repr(info.value)
    assert emulator.control.stats()["http_requests"] == 1


def test_unknown_method_fails_fast_without_retries(client: Bitrix24Client, emulator: Any) -> None:
    with pytest.raises(Bitrix24MethodNotFound) as info:
        client.call("crm.deal.lisst")
    assert info.value.http_status == 404
    assert emulator.control.stats()["http_requests"] == 1


def test_read_is_retried_after_a_dropped_connection(client: Bitrix24Client, emulator: Any) -> None:
    client.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    emulator.control.faults(script("crm.deal.list", "drop"))
    page = client.call_page("crm.deal.list", {"select": ["ID", "TITLE"]})
    assert [r["TITLE"] for r in page.result] == ["x"]
    assert client.stats.retries == 1
    assert emulator.control.stats()["faults"] == {"drop": 1}


def test_read_batch_is_retried_after_a_500(client: Bitrix24Client, emulator: Any) -> None:
    emulator.control.faults(script("batch", "http_500"))
    br = client.batch({"p": ("profile", None), "l": ("crm.deal.list", {})})
    assert br.errors == {} and br.results["p"]["ID"] == "1"
    assert emulator.control.stats()["http_requests"] == 2


def test_write_is_not_retried_after_applied_then_drop(client: Bitrix24Client, emulator: Any) -> None:
    emulator.control.faults(script("crm.deal.add", "applied_then_drop"))
    with pytest.raises(Bitrix24TransportError) as info:
        client.call("crm.deal.add", {"fields": {"TITLE": "maybe"}})
    assert info.value.maybe_applied is True and info.value.method == "crm.deal.add"
    assert emulator.control.stats()["http_requests"] == 1 and client.stats.retries == 0
    assert [d["TITLE"] for d in emulator.control.dump("deal")] == ["maybe"]  # it was applied
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_write_batch_500_is_maybe_applied_and_not_retried(
    client: Bitrix24Client, emulator: Any
) -> None:
    emulator.control.faults(script("batch", "applied_then_500"))
    with pytest.raises(Bitrix24ServerError) as info:
        client.batch({"d": ("crm.deal.add", {"fields": {"TITLE": "t"}})})
    assert info.value.maybe_applied is True and info.value.http_status == 500
    assert emulator.control.stats()["http_requests"] == 1
    assert len(emulator.control.dump("deal")) == 1


def test_failed_second_request_of_a_split_batch_keeps_the_first_results(
    client: Bitrix24Client, emulator: Any
) -> None:
    emulator.control.faults(script("batch", "applied_then_500", skip=1))
    cmds = {f"d{i}": ("crm.deal.add", {"fields": {"TITLE": f"t{i}"}}) for i in range(60)}
    with pytest.raises(Bitrix24ServerError) as info:
        client.batch(cmds)
    assert info.value.partial is not None
    assert sorted(info.value.partial.results) == sorted(f"d{i}" for i in range(50))
    assert info.value.command_keys == tuple(f"d{i}" for i in range(50, 60))


def test_read_timeout_on_a_write_is_maybe_applied(make_emulator: Any) -> None:
    emu = make_emulator(faults={"slow_s": 2, "script": [{"method": "crm.deal.add", "fault": "slow"}]})
    client = Bitrix24Client(emu.webhook_url, plan="unlimited", timeout=(2.0, 0.3))
    with pytest.raises(Bitrix24TransportError) as info:
        client.call("crm.deal.add", {"fields": {"TITLE": "slow"}})
    assert info.value.code == "ReadTimeout" and info.value.maybe_applied is True
    assert emu.control.stats()["http_requests"] == 1


def test_connection_refused_is_not_applied_and_retried(make_emulator: Any) -> None:
    emu = make_emulator()
    url = emu.webhook_url
    emu.stop()
    client = Bitrix24Client(url, plan="unlimited", backoff=0.01, max_read_attempts=3)
    with pytest.raises(Bitrix24TransportError) as info:
        client.call("crm.deal.add", {"fields": {"TITLE": "never"}})
    assert info.value.maybe_applied is False
    assert client.stats.retries == 2  # safe: nothing was sent
    assert emu.token not in str(info.value) + repr(info.value)
