"""Fault injection: seeded random rates plus deterministic one-shot scripts."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("http_500", "http_503", "drop", "slow", "applied_then_500", "applied_then_drop")
# Faults that answer without executing anything.
BEFORE = {"http_500", "http_503", "drop"}
# Faults that execute (commit) first and then fail the response.
AFTER = {"applied_then_500", "applied_then_drop"}


@dataclass
class ScriptEntry:
    method: str
    fault: str
    times: int = 1       # how many matching requests get the fault (-1: forever)
    skip: int = 0        # let this many matching requests through first

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "fault": self.fault, "times": self.times,
                "skip": self.skip}


@dataclass
class Refusal:
    """One command the portal refuses on its own terms (a per-command error inside a batch,
    other commands unaffected): like a portal rule, a required field or missing rights.

    Matches ``method`` and, when ``field`` is given, ``params["fields"][field] == value``
    (string comparison) or, for ``field == "id"``, the command's ``id``.
    """

    method: str
    code: str = "ERROR_CORE"
    description: str = "The record was refused by a portal rule"
    field: str | None = None
    value: str | None = None
    times: int = -1  # -1: every matching command

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.times == 0 or self.method not in ("*", method):
            return False
        if self.field is None:
            return True
        if self.field.lower() == "id":
            return str(params.get("id")) == str(self.value)
        fields = params.get("fields") if isinstance(params.get("fields"), dict) else {}
        return str(fields.get(self.field)) == str(self.value)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "code": self.code, "description": self.description,
                "field": self.field, "value": self.value, "times": self.times}


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    slow_s: float = 5.0
    script: list[ScriptEntry] = field(default_factory=list)
    refuse: list[Refusal] = field(default_factory=list)


def parse_plan(raw: dict[str, Any]) -> FaultPlan:
    """Accept ``{"rates": {...}, "slow_s": 5, "script": [...]}``; rate keys may also sit
    at the top level (``{"http_500": 0.1}``)."""
    if not isinstance(raw, dict):
        raise ValueError("faults must be a JSON object")
    rates: dict[str, float] = {}
    for source in (raw, raw.get("rates") or {}):
        for key, value in source.items():
            if key in KINDS:
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"rate for {key} must be within [0, 1]")
                rates[key] = rate
    if sum(rates.values()) > 1.0:
        raise ValueError("fault rates add up to more than 1")
    unknown = set(raw) - set(KINDS) - {"rates", "slow_s", "script", "seed", "refuse"}
    if unknown:
        raise ValueError(f"unknown fault keys: {sorted(unknown)}")
    script = []
    for item in raw.get("script") or []:
        if not isinstance(item, dict) or item.get("fault") not in KINDS:
            raise ValueError(f"bad script entry {item!r}; fault must be one of {KINDS}")
        script.append(ScriptEntry(
            method=str(item.get("method") or "*").lower(),
            fault=str(item["fault"]),
            times=int(item.get("times", 1)),
            skip=int(item.get("skip", 0)),
        ))
    refuse = []
    for item in raw.get("refuse") or []:
        if not isinstance(item, dict) or not item.get("method"):
            raise ValueError(f"bad refuse entry {item!r}: needs at least a method")
        refuse.append(Refusal(
            method=str(item["method"]).lower(), code=str(item.get("code", "ERROR_CORE")),
            description=str(item.get("description", Refusal.description)),
            field=item.get("field"), value=None if item.get("value") is None
            else str(item["value"]), times=int(item.get("times", -1))))
    return FaultPlan(rates=rates, slow_s=float(raw.get("slow_s", 5.0)), script=script,
                     refuse=refuse)


class FaultInjector:
    """Decides, per REST request, which fault (if any) to inject; thread-safe, seeded."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self.plan = FaultPlan()

    def configure(self, raw: dict[str, Any]) -> None:
        plan = parse_plan(raw)
        with self._lock:
            self.plan = plan
            if "seed" in raw:
                self._seed = int(raw["seed"])
                self._rng = random.Random(self._seed)

    def clear(self) -> None:
        with self._lock:
            self.plan = FaultPlan()
            self._rng = random.Random(self._seed)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"rates": dict(self.plan.rates), "slow_s": self.plan.slow_s,
                    "script": [e.as_dict() for e in self.plan.script],
                    "refuse": [r.as_dict() for r in self.plan.refuse], "seed": self._seed}

    def refusal(self, method: str, params: dict[str, Any]) -> Refusal | None:
        """The refusal rule this command meets, if any (counted down when limited)."""
        with self._lock:
            for rule in self.plan.refuse:
                if rule.matches(method, params):
                    if rule.times > 0:
                        rule.times -= 1
                    return rule
        return None

    def decide(self, top_method: str, inner_methods: list[str]) -> tuple[str | None, str]:
        """(fault kind or None, "script"|"rate"). One random draw per request keeps runs
        reproducible for a given seed and request order."""
        names = {top_method.lower(), *(m.lower() for m in inner_methods)}
        with self._lock:
            draw = self._rng.random()
            for entry in self.plan.script:
                if entry.method != "*" and entry.method not in names:
                    continue
                if entry.times == 0:
                    continue
                if entry.skip > 0:
                    entry.skip -= 1
                    break  # this matching request passes through the script
                if entry.times > 0:
                    entry.times -= 1
                kind = entry.fault
                self.plan.script = [e for e in self.plan.script if e.times != 0]
                return kind, "script"
            edge = 0.0
            for kind in KINDS:
                edge += self.plan.rates.get(kind, 0.0)
                if draw < edge:
                    return kind, "rate"
        return None, ""

    @property
    def slow_s(self) -> float:
        with self._lock:
            return self.plan.slow_s
