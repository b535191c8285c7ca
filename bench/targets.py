"""Issue #22's targets, each judged from one `make bench` run: a row per target and cell with
the measured figure, the goal and pass/fail, for results.json and the README's table.

Only figures the run measured are judged; a cell or measurement the run did not make is
"not run" (never a pass).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.scheduler import DAILY

RATE = {"standard": 80_000, "enterprise": 150_000}  # receptions/h on the 5-day backfill
EVERY30_SHARE = 0.5  # the */30 backfill against one manual run over the same days
SETUP_CPU_S = 0.25  # our set-up per task instance, median, CPU seconds


@dataclass(frozen=True)
class Target:
    target: str
    cell: str
    value: Any
    goal: str
    result: str  # "pass" | "fail" | "not run"
    shown: str = ""  # the value as the table shows it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdict(ok: bool | None) -> str:
    return "not run" if ok is None else ("pass" if ok else "fail")


def _label(r: dict[str, Any]) -> str:
    ex = r["executor"] if not r.get("workers") else f"{r['executor']} ×{r['workers']}"
    return f"{ex}, {r['plan']}"


def judge(sched: list[dict[str, Any]], setup: dict[str, Any] | None = None) -> list[Target]:
    out: list[Target] = []
    daily = [r for r in sched if r["mode"] == "backfill" and r["schedule"] == DAILY]
    for plan, goal in RATE.items():
        for executor in ("local", "celery"):
            r = next((x for x in daily if x["plan"] == plan and x["executor"] == executor),
                     None)
            value = None if r is None else r["receptions_per_hour"]
            out.append(Target(f"{plan} plan, 5-day backfill", _label(r) if r else
                              f"{executor}, {plan}", value, f"≥ {goal:,}/h",
                              _verdict(None if r is None else value >= goal),
                              "-" if value is None else f"{value:,}/h"))
    every30 = next((r for r in sched if r["schedule"] != DAILY and r["mode"] == "backfill"),
                   None)
    one = next((r for r in sched if r["mode"] == "one run"), None)
    share = (round(every30["receptions_per_hour"] / one["receptions_per_hour"], 3)
             if every30 and one and one["receptions_per_hour"] else None)
    out.append(Target("`*/30` backfill against one manual run", "local, standard", share,
                      f"≥ {EVERY30_SHARE:.0%}",
                      _verdict(None if share is None else share >= EVERY30_SHARE),
                      "-" if share is None else f"{share:.0%} ({every30['receptions_per_hour']:,}"
                      f" vs {one['receptions_per_hour']:,}/h)"))
    for r in sched:
        bad = {"503": r["responses_503"], "duplicates": r["deals_duplicated"],
               "runs failed": r["runs_failed"], "exit": r.get("exit", 0)}
        shown = ", ".join(f"{k} {v}" for k, v in bad.items())
        out.append(Target("0 × 503, 0 duplicates, every run green", r["cell"], bad, "all 0",
                          _verdict(not any(bad.values())), shown))
        cpu = r.get("cpu") or {}
        reported = r.get("portal_budget_used") is not None and bool(cpu.get("per_ti_s"))
        out.append(Target("budget used and CPU per task instance reported", r["cell"],
                          {"portal_budget_used": r.get("portal_budget_used"), "cpu": cpu},
                          "both present", _verdict(reported), _budget_and_cpu(r)))
    median = None if not setup else setup.get("median_cpu_s")
    out.append(Target("our set-up per task instance, CPU median (idle machine)",
                      "bench/task_setup.py", median, f"≤ {SETUP_CPU_S} s",
                      _verdict(None if median is None else median <= SETUP_CPU_S),
                      "-" if median is None else f"{median:.3f} s"))
    return out


def _budget_and_cpu(r: dict[str, Any]) -> str:
    budget = r.get("portal_budget_used")
    cpu = (r.get("cpu") or {}).get("per_ti_s") or {}
    parts = [] if budget is None else [f"budget {budget:.0%}"]
    if cpu:
        parts.append("CPU/TI " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu.items()))
    return "; ".join(parts) or "-"


def render(targets: list[Target]) -> str:
    rows = ["| target | cell | measured | goal | result |", "|---|---|---|---|---|"]
    for t in targets:
        mark = {"pass": "✓ pass", "fail": "✗ fail"}.get(t.result, t.result)
        rows.append(f"| {t.target} | {t.cell} | {t.shown or '-'} | {t.goal} | {mark} |")
    return "\n".join(rows)
