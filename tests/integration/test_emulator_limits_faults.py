"""Rate limits, operating-time limits and injected faults over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from b24emu.server import EmulatorServer
from tests.fixtures.emulator import rest


def test_burst_of_100_on_standard_plan_hits_503_past_the_bucket(make_emulator) -> None:
    emu = make_emulator(plan="standard")
    with requests.Session() as session, ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(
            lambda _: session.get(emu.webhook_url + "profile", timeout=10), range(100)))
    codes = [r.status_code for r in statuses]
    rejected = [r for r in statuses if r.status_code == 503]
    assert set(codes) == {200, 503}
    assert codes.count(200) >= 50 and len(rejected) >= 20
    assert rejected[0].json() == {"error": "QUERY_LIMIT_EXCEEDED",
                                  "error_description": "Too many requests"}
    assert emu.control.stats()["limit_rejections"]["503"] == len(rejected)


def test_unlimited_plan_never_throttles(emulator: EmulatorServer) -> None:
    assert all(rest(emulator, "profile").status_code == 200 for _ in range(120))


def test_operating_time_limit_gives_429_per_method(make_emulator) -> None:
    emu = make_emulator(operating_limit_s=1.0, operating_per_call_s=0.4, operating_factor=0)
    bodies = [rest(emu, "crm.contact.list") for _ in range(3)]
    assert [b.status_code for b in bodies] == [200, 200, 200]
    assert bodies[2].json()["time"]["operating"] == pytest.approx(1.2)
    blocked = rest(emu, "crm.contact.list")
    assert blocked.status_code == 429 and blocked.json()["error"] == "OPERATION_TIME_LIMIT"
    assert rest(emu, "profile").status_code == 200  # other methods are not blocked
    inside = rest(emu, "batch", json={"cmd": {"a": "crm.contact.list", "b": "profile"}}).json()
    assert inside["result"]["result_error"]["a"]["error"] == "OPERATION_TIME_LIMIT"
    assert emu.control.stats()["limit_rejections"]["429"] == 2


def test_runtime_config_switches_plan(emulator: EmulatorServer) -> None:
    cfg = emulator.control.config({"plan": "standard", "latency_ms": 1})
    assert cfg["plan"] == "standard" and cfg["latency_ms"] == 1
    codes = [rest(emulator, "profile").status_code for _ in range(60)]
    assert 503 in codes
    bad = requests.post(emulator.base_url + "/_emu/config", json={"plan": "gold"}, timeout=5)
    assert bad.status_code == 400


def test_drop_raises_connection_error_and_applies_nothing(emulator: EmulatorServer) -> None:
    emulator.control.faults({"script": [
        {"method": "crm.contact.add", "fault": "drop", "times": 1}]})
    with pytest.raises(requests.ConnectionError):
        rest(emulator, "crm.contact.add", json={"fields": {"NAME": "lost"}})
    assert emulator.control.dump("contact") == []
    assert rest(emulator, "crm.contact.add", json={"fields": {"NAME": "ok"}}).status_code == 200
    stats = emulator.control.stats()
    assert stats["faults"] == {"drop": 1}
    assert stats["fault_log"][0]["method"] == "crm.contact.add"


def test_applied_then_drop_commits_the_write(emulator: EmulatorServer) -> None:
    emulator.control.faults({"script": [
        {"method": "crm.deal.add", "fault": "applied_then_drop", "times": 1}]})
    with pytest.raises(requests.ConnectionError):
        rest(emulator, "batch", json={"cmd": {"d": "crm.deal.add?fields[TITLE]=Kept"}})
    assert [d["TITLE"] for d in emulator.control.dump("deal")] == [
        "Kept"]


def test_applied_then_500_commits_and_http_500_does_not(emulator: EmulatorServer) -> None:
    emulator.control.faults({"script": [
        {"method": "crm.contact.add", "fault": "applied_then_500"},
        {"method": "crm.contact.add", "fault": "http_500"},
        {"method": "batch", "fault": "http_503"},
    ]})
    first = rest(emulator, "crm.contact.add", json={"fields": {"NAME": "applied"}})
    second = rest(emulator, "crm.contact.add", json={"fields": {"NAME": "not applied"}})
    third = rest(emulator, "batch", json={"cmd": {"x": "crm.contact.add?fields[NAME]=no"}})
    assert first.status_code == 500 and second.status_code == 500
    assert first.json()["error"] == "INTERNAL_SERVER_ERROR"
    assert third.status_code == 503 and third.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    names = [c["NAME"] for c in emulator.control.dump("contact")]
    assert names == ["applied"]
    assert emulator.control.stats()["faults"] == {
        "applied_then_500": 1, "http_500": 1, "http_503": 1}


def test_slow_answers_after_the_client_timeout(emulator: EmulatorServer) -> None:
    emulator.control.faults({"slow_s": 1.5, "script": [
        {"method": "profile", "fault": "slow"}]})
    with pytest.raises(requests.ReadTimeout):
        rest(emulator, "profile", timeout=0.3)
    assert emulator.control.stats()["faults"] == {"slow": 1}


def test_random_fault_rates_are_reproducible_by_seed(make_emulator) -> None:
    def run() -> list[int]:
        emu = make_emulator(seed=42, faults={"http_500": 0.3, "http_503": 0.2})
        return [rest(emu, "profile").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {200, 500, 503} <= set(first)


def test_fault_config_round_trip_and_reset(emulator: EmulatorServer) -> None:
    cfg = emulator.control.faults({"rates": {"http_500": 1.0}})
    assert cfg["rates"] == {"http_500": 1.0}
    assert rest(emulator, "profile").status_code == 500
    # The endpoint also takes ?what= in the query string.
    requests.post(emulator.base_url + "/_emu/reset", params={"what": "faults"},
                  timeout=5).raise_for_status()
    assert emulator.control.faults()["rates"] == {}
    assert rest(emulator, "profile").status_code == 200
    bad = requests.post(emulator.base_url + "/_emu/faults", json={"explode": 1}, timeout=5)
    assert bad.status_code == 400
