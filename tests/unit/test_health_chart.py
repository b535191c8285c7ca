"""The health page's 30-day chart: the per-day totals (identsync.ui.health.daily_totals) and
the inline SVG drawn from them (identsync.ui.page.chart_svg). Pure functions, no database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from identsync.ui.health import CHART_DAYS, chart_of, daily_totals
from identsync.ui.page import chart_svg

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 21, 9, 10, tzinfo=timezone.utc)  # 12:10 in Moscow
SVG = "{http://www.w3.org/2000/svg}"


def run(at: datetime, records: int, rejected: int, requests: int, dry_run: bool = False
        ) -> dict:
    """A row of StateStore.run_totals_since (jsonb values, as psycopg2 returns them)."""
    return {"recorded_at": at, "records": records, "rejected": rejected,
            "http_requests": requests, "dry_run": dry_run}


def test_thirty_days_ending_today_and_empty_days_are_zeros() -> None:
    days = daily_totals([], now=NOW, tz=MSK)
    assert len(days) == CHART_DAYS == 30
    assert days[-1]["day"] == "2026-11-21" and days[0]["day"] == "2026-10-23"
    assert all(d["synced"] == d["rejected"] == d["requests"] == d["runs"] == 0 for d in days)


def test_runs_add_up_per_clinic_day() -> None:
    runs = [
        run(datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc), 7, 3, 4),
        run(datetime(2026, 11, 21, 6, 30, tzinfo=timezone.utc), 5, 0, 2),
        # 22:30 UTC on the 19th is 01:30 on the 20th in Moscow: the clinic's day counts.
        run(datetime(2026, 11, 19, 22, 30, tzinfo=timezone.utc), 1, 1, 9),
        # A dry run synced nothing; it asked the portal all the same.
        run(datetime(2026, 11, 21, 7, 0, tzinfo=timezone.utc), 50, 9, 6, dry_run=True),
        # Outside the 30 days, and an older summary with nulls and no timestamp: ignored.
        run(NOW - timedelta(days=31), 100, 100, 100),
        {"recorded_at": "2026-11-18T10:00:00+03:00", "records": None, "rejected": "x",
         "http_requests": 3, "dry_run": None},
        {"recorded_at": None, "records": 8},
    ]
    days = {d["day"]: d for d in daily_totals(runs, now=NOW, tz=MSK)}
    assert days["2026-11-21"] == {"day": "2026-11-21", "runs": 2, "synced": 12, "rejected": 3,
                                  "requests": 12}
    assert days["2026-11-20"]["synced"] == 1 and days["2026-11-20"]["requests"] == 9
    assert days["2026-11-19"]["requests"] == 0
    assert days["2026-11-18"] == {"day": "2026-11-18", "runs": 1, "synced": 0, "rejected": 0,
                                  "requests": 3}
    assert len(days) == 30 and sum(d["synced"] for d in days.values()) == 13
    assert chart_of(list(days.values()))["totals"] == {"runs": 4, "synced": 13, "rejected": 4,
                                                       "requests": 24}


def test_the_svg_carries_every_days_numbers_and_an_accessible_name() -> None:
    runs = [run(datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc), 7, 3, 40),
            run(datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc), 14, 0, 20)]
    chart = chart_of(daily_totals(runs, now=NOW, tz=MSK))
    svg = str(chart_svg(chart, label="Branch 1: Центр", ident="chart-p1"))
    root = ET.fromstring(svg)  # well-formed XML
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-p1-title chart-p1-desc"
    title = root.find(f"{SVG}title")
    assert title is not None and title.get("id") == "chart-p1-title"
    assert title.text.startswith("Branch 1: Центр: receptions synced, rejected and HTTP")
    assert "2026-10-23 to 2026-11-21" in title.text
    desc = root.find(f"{SVG}desc")
    assert desc.text == ("In 30 days: 21 receptions synced, 3 rejected, 60 HTTP requests, "
                         "2 runs.")
    groups = root.findall(f"{SVG}g[@class='day']")
    assert len(groups) == 30
    tips = {g.get("data-day"): g.find(f"{SVG}title").text for g in groups}
    assert tips["2026-11-21"] == "2026-11-21: 7 synced, 3 rejected, 40 HTTP requests, 1 run"
    assert tips["2026-11-01"] == "2026-11-01: 0 synced, 0 rejected, 0 HTTP requests, 0 runs"
    # Bars scale to the busiest day: 14 synced fills the receptions panel, 40 requests its.
    heights = {g.get("data-day"): {r.get("class"): float(r.get("height"))
                                   for r in g.findall(f"{SVG}rect") if r.get("class")}
               for g in groups}
    assert heights["2026-11-20"]["synced"] == 70.0 and heights["2026-11-21"]["requests"] == 36.0
    assert heights["2026-11-21"]["synced"] == 35.0 and heights["2026-11-21"]["rejected"] == 15.0
    assert heights["2026-11-01"] == {"synced": 0.0, "rejected": 0.0, "requests": 0.0}
    assert re.search(r">14</text>", svg) and re.search(r">40</text>", svg)  # the scales


def test_the_svg_escapes_the_label() -> None:
    chart = chart_of(daily_totals([], now=NOW, tz=MSK))
    svg = str(chart_svg(chart, label='<script>alert("x")</script>', ident='c"><b>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and '"><b>' not in svg
    ET.fromstring(svg)


def test_the_svg_has_no_long_digit_runs() -> None:
    """Coordinates carry one decimal: float noise such as 17.700000000000003 would be a long
    digit run, which the page's phone leak checks flag (and nobody needs)."""
    days = daily_totals([run(NOW - timedelta(days=k), 3 * k + 1, k % 7, 7 * k + 3)
                         for k in range(30)], now=NOW, tz=MSK)
    svg = str(chart_svg(chart_of(days), label="B", ident="c"))
    assert re.findall(r"\d{6,}", re.sub(r"#[0-9a-f]{6}", "", svg)) == []
    assert re.findall(r'(?:x|y|width|height)="(\d+\.\d\d+)"', svg) == []
