"""Pure logic of the benchmark: time projection, targets, ratios and the table.

Projection model (for cells too slow to run live): requests are sequential, so a run takes
its local work (the measured wall time of the same run against a zero-latency, unlimited
emulator) plus one latency per request, but never less than the portal's leaky bucket
allows: after the first ``burst`` requests, at most ``drain`` requests per second.

    T = max(T0 + N * L, (N - burst) / drain)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The client keeps 2 of the portal's 50 slots free (identsync.bitrix24.ratelimit headroom).
PLAN_LIMITS = {"standard": (48, 2.0), "enterprise": (248, 5.0), "unlimited": None}

STRATEGY_LABELS = {
    "a": "(a) per-record calls (model)",
    "b": "(b) seed: batch lookups + md5 (model)",
    "c": "(c) engine, in-process",
    "d": "(d) Airflow DAG, `dags test`",
}

TARGET_THROUGHPUT = 75_000  # receptions per hour
TARGET_RSS_MB = 500.0
LINEAR_TOLERANCE = 1.10  # largest workload's cost per reception vs 1,000's


def projected_seconds(requests: int, zero_latency_s: float, latency_s: float,
                      plan: str = "standard") -> float:
    limits = PLAN_LIMITS.get(plan)
    sequential = zero_latency_s + requests * latency_s
    if limits is None:
        return sequential
    burst, drain = limits
    return max(sequential, max(0, requests - burst) / drain)


@dataclass
class Cell:
    """One strategy on one workload: what was counted and how long it took."""

    strategy: str
    workload: str
    records: int
    http_requests: int
    commands: int
    writes: int
    wall_s: float
    projected: bool  # wall_s is a projection, not a measurement
    peak_rss_mb: float | None
    rss_note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def per_hour(self) -> float:
        return self.records / self.wall_s * 3600 if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "workload": self.workload, "records": self.records,
                "http_requests": self.http_requests, "commands": self.commands,
                "writes": self.writes, "wall_s": round(self.wall_s, 2),
                "wall_projected": self.projected, "receptions_per_hour": round(self.per_hour),
                "peak_rss_mb": self.peak_rss_mb, "rss_note": self.rss_note,
                "detail": self.detail}


def ratio(base: float, ours: float) -> float | None:
    return base / ours if ours > 0 and base > 0 else None


def ratios(cells: dict[tuple[str, str], Cell], strategy: str, workload: str
           ) -> dict[str, dict[str, float | None]]:
    """How many times fewer requests / less time than (a) and (b), same workload."""
    ours = cells.get((strategy, workload))
    out: dict[str, dict[str, float | None]] = {}
    if ours is None or strategy not in ("c", "d"):
        return out
    for base_key in ("a", "b"):
        base = cells.get((base_key, workload))
        if base is None:
            continue
        out[base_key] = {"requests": ratio(base.http_requests, ours.http_requests),
                         "time": ratio(base.wall_s, ours.wall_s),
                         "projected": base.projected or ours.projected}
    return out


def _per_reception(cell: Cell, attr: str) -> float:
    return getattr(cell, attr) / cell.records if cell.records else 0.0


def linearity(cells: dict[tuple[str, str], Cell], strategy: str = "c"
              ) -> tuple[bool, str] | None:
    """Cost per reception of the largest "new" workload vs 1,000 new: requests (counted
    exactly everywhere) and wall time (between the smallest and largest cells run live)."""
    new = sorted((c for (s, w), c in cells.items() if s == strategy and w.startswith("new_")
                  and c.records >= 1000), key=lambda c: c.records)
    if len(new) < 2:
        return None
    checks = [("requests", new[0], new[-1], "http_requests")]
    live = [c for c in new if not c.projected]
    if len(live) >= 2:
        checks.append(("time", live[0], live[-1], "wall_s"))
    ok = True
    parts = []
    for name, small, big, attr in checks:
        s, b = _per_reception(small, attr) * 1000, _per_reception(big, attr) * 1000
        ok = ok and b <= s * LINEAR_TOLERANCE
        unit = " s" if attr == "wall_s" else ""
        parts.append(f"{name} per 1,000 receptions {s:.1f}{unit} ({small.records:,}) -> "
                     f"{b:.1f}{unit} ({big.records:,})")
    return ok, "; ".join(parts)


def targets(cells: dict[tuple[str, str], Cell]) -> dict[tuple[str, str], list[tuple[str, bool]]]:
    """The issue's targets, checked (not asserted) on the engine's rows."""
    out: dict[tuple[str, str], list[tuple[str, bool]]] = {}

    def add(key: tuple[str, str], text: str, ok: bool) -> None:
        out.setdefault(key, []).append((text, ok))

    for (s, w), c in cells.items():
        if s not in ("c", "d"):
            continue
        if w == "new_20":
            add((s, w), "≤4 req", c.http_requests <= 4)
        elif w == "new_1000":
            add((s, w), "≤90 req", c.http_requests <= 90)
        elif w == "unchanged_1000":
            add((s, w), "≤25 req, 0 writes", c.http_requests <= 25 and c.writes == 0)
        if s == "c" and w.startswith("new_") and c.records >= 1000:
            add((s, w), f"{'~' if c.projected else ''}≥75k/h", c.per_hour >= TARGET_THROUGHPUT)
        if s == "c" and w == "new_20000" and c.peak_rss_mb is not None:
            add((s, w), "<500 MB", c.peak_rss_mb < TARGET_RSS_MB)
    lin = linearity(cells)
    if lin is not None:
        biggest = max((w for (s, w) in cells if s == "c" and w.startswith("new_")),
                      key=lambda w: cells[("c", w)].records)
        add(("c", biggest), "linear", lin[0])
    return out


# -- formatting ------------------------------------------------------------------------------

def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def fmt_seconds(cell: Cell) -> str:
    s = cell.wall_s
    text = f"{s:,.0f} s" if s >= 100 else f"{s:,.1f} s"
    return f"~{text} (projected)" if cell.projected else text


def fmt_ratio(r: dict[str, float | None] | None) -> str:
    if not r:
        return ""
    def one(v: float | None) -> str:
        return "-" if v is None else (f"×{v:,.0f}" if v >= 10 else f"×{v:.1f}")
    mark = "~" if r.get("projected") else ""
    return f"{one(r['requests'])} / {mark}{one(r['time'])}"


def render_table(cells: dict[tuple[str, str], Cell], workload_order: list[str],
                 labels: dict[str, str]) -> str:
    checks = targets(cells)
    head = ("| workload | strategy | HTTP req | commands | writes | wall time | receptions/h "
            "| peak RSS | vs (a) req / time | vs (b) req / time | target |")
    lines = [head, "|" + "---|" * 11]
    for w in workload_order:
        for s in ("a", "b", "c", "d"):
            c = cells.get((s, w))
            if c is None:
                continue
            r = ratios(cells, s, w)
            rss = f"{c.peak_rss_mb:,.0f} MB{c.rss_note}" if c.peak_rss_mb is not None else "-"
            rate = ("~" if c.projected else "") + fmt_int(c.per_hour)
            tg = "; ".join(f"{t} {'✓' if ok else '✗'}" for t, ok in checks.get((s, w), []))
            lines.append(
                f"| {labels.get(w, w)} ({c.records:,} synced) | {STRATEGY_LABELS[s]} "
                f"| {fmt_int(c.http_requests)} | {fmt_int(c.commands)} | {fmt_int(c.writes)} "
                f"| {fmt_seconds(c)} | {rate} | {rss} | {fmt_ratio(r.get('a'))} "
                f"| {fmt_ratio(r.get('b'))} | {tg} |")
    return "\n".join(lines)
