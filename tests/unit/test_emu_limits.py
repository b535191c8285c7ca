"""Leaky bucket, operating time and fault decisions with fake clocks and fixed seeds."""

from __future__ import annotations

import pytest

from b24emu.config import Config
from b24emu.faults import FaultInjector
from b24emu.limits import LeakyBucket, OperatingTime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_standard_bucket_admits_50_then_drains_2_per_second() -> None:
    clock = Clock()
    bucket = LeakyBucket(clock)
    assert all(bucket.try_acquire("w", "standard") for _ in range(50))
    assert not bucket.try_acquire("w", "standard")
    clock.now += 1.0
    assert bucket.try_acquire("w", "standard") and bucket.try_acquire("w", "standard")
    assert not bucket.try_acquire("w", "standard")


def test_enterprise_bucket_and_unlimited() -> None:
    bucket = LeakyBucket(Clock())
    assert sum(bucket.try_acquire("w", "enterprise") for _ in range(300)) == 250
    assert all(bucket.try_acquire("x", "unlimited") for _ in range(1000))


def test_operating_time_blocks_after_limit_and_resets_with_window() -> None:
    clock = Clock()
    op = OperatingTime(clock)
    cfg = Config(operating_limit_s=1.0, operating_factor=0.0, operating_per_call_s=0.4,
                 operating_window_s=600)
    for _ in range(3):
        assert not op.blocked("crm.deal.list", cfg)
        spent, reset_at = op.account("crm.deal.list", 0.01, cfg)
    assert spent == pytest.approx(1.2) and reset_at == 1600
    assert op.blocked("crm.deal.list", cfg)
    assert not op.blocked("crm.contact.list", cfg)  # per method
    clock.now += 600
    assert not op.blocked("crm.deal.list", cfg)


def test_config_rejects_unknown_plan_and_keys() -> None:
    cfg = Config()
    with pytest.raises(ValueError):
        cfg.update({"plan": "gold"})
    assert cfg.plan == "unlimited"
    with pytest.raises(ValueError):
        cfg.update({"nope": 1})


def test_random_faults_are_reproducible_by_seed() -> None:
    def run(seed: int) -> list[str | None]:
        inj = FaultInjector(seed)
        inj.configure({"rates": {"http_500": 0.2, "drop": 0.1}})
        return [inj.decide("profile", [])[0] for _ in range(200)]

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 20 < first.count("http_500") < 60 and 5 < first.count("drop") < 40


def test_script_matches_inner_batch_method_once_and_can_skip() -> None:
    inj = FaultInjector(0)
    inj.configure({"script": [{"method": "crm.deal.add", "fault": "applied_then_drop",
                               "times": 1, "skip": 1}]})
    assert inj.decide("batch", ["crm.deal.add"]) == (None, "")  # skipped
    assert inj.decide("crm.contact.add", []) == (None, "")       # no match
    assert inj.decide("batch", ["crm.contact.add", "crm.deal.add"]) == (
        "applied_then_drop", "script")
    assert inj.decide("crm.deal.add", []) == (None, "")          # used up
    assert inj.describe()["script"] == []


def test_bad_fault_config_is_rejected() -> None:
    inj = FaultInjector(0)
    with pytest.raises(ValueError):
        inj.configure({"http_500": 2})
    with pytest.raises(ValueError):
        inj.configure({"script": [{"method": "x", "fault": "explode"}]})
    with pytest.raises(ValueError):
        inj.configure({"http_500": 0.7, "drop": 0.6})
