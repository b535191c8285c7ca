"""The sync-health read model (identsync.ui.health) on real PostgreSQL state: what each branch
shows, grouped and linked, and that no patient's phone leaves it whole. No Airflow needed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fastapi import Request  # at module level: the dependency below is resolved by name

from identsync.config import SyncConfig
from identsync.records import Rejection
from identsync.state import SyncState
from identsync.ui.health import (
    Links,
    age_text,
    health_report,
    mask_phone,
    mask_text,
    pipeline_health,
)
from identsync.ui.page import render

PIPE = SyncConfig.pipeline_id(1)
RUN = "manual__2026-11-21T06:00:00+00:00"
MSK = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Refused:
    """What RetryQueue.fail reads of a refused record."""

    ident_id: str
    reception_id: int | None
    step: str
    code: str
    description: str


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# Ten or more digits with at most phone punctuation between them: a whole phone number
# (dates and times, which the page shows plenty of, are taken out first).
FULL_PHONE = re.compile(r"\d(?:[\s\-()\u00a0]*\d){9,}")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def full_phones(text: str) -> list[str]:
    return FULL_PHONE.findall(DATE_TIME.sub(" ", text))


# --- masking ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    ("+7 999 123-45-67", "+7 999 ***-**-67"),
    ("89161234567", "+7 916 ***-**-67"),
    ("8\u00a0916\u00a0123\u00a045\u00a067", "+7 916 ***-**-67"),
    ("８９１６１２３４５６７", "+7 916 ***-**-67"),  # full-width digits
    ("+380 44 123 4567", "+380 44 *** **67"),
    ("+7 999 123 45 67 89 01 23", "+* *** *** ** ** ** ** 23"),  # too long: all but 2
    ("89I6I234567", "**I*I****67"),
    ("8 999 xxx-xx-xx", "* *99 xxx-xx-xx"),  # letters are not keypad digits here
    ("нет телефона", "нет телефона"),
    ("", ""),
    (None, None),
])
def test_mask_phone(raw: str | None, shown: str | None) -> None:
    assert mask_phone(raw) == shown


def test_mask_text_hides_phones_keeps_dates_and_ids() -> None:
    raw = "+7 999 123 45 67 89 01 23"
    detail = (f"F1_1000234: phone {raw!r} is too long (17 digits); PlanEnd 21.11.2026 10:00, "
              "added 2026-11-21T06:00:00+03:00, reception 1234567, also 8 (916) 123-45-67")
    masked = mask_text(detail, [raw])
    assert "F1_1000234" in masked and "21.11.2026 10:00" in masked
    assert "2026-11-21T06:00:00+03:00" in masked and "reception 1234567" in masked
    assert "'+* *** *** ** ** ** ** 23'" in masked and "+7 916 ***-**-67" in masked
    assert "9991234567" not in digits(masked) and "9161234567" not in digits(masked)
    # A value the phone rules shorten or clean for messages is still found and masked.
    odd = "8\u00a0916\u00a0123\u00a045\u00a067"
    assert mask_text("phone '8 916 123 45 67' is bad", [odd]) == "phone '+7 916 ***-**-67' is bad"
    assert mask_text(None) is None
    assert full_phones("call +7 999 123-45-67") and not full_phones(mask_text("+7 999 123-45-67"))


def test_links_into_the_airflow_ui() -> None:
    links = Links("/")
    assert links.run(PIPE, RUN) == f"/dags/{PIPE}/runs/{RUN}"
    assert links.task_log(PIPE, RUN, "transform") == f"/dags/{PIPE}/runs/{RUN}/tasks/transform"
    assert links.task_log(PIPE, RUN, "add_comments", 3).endswith("/tasks/add_comments/mapped/3")
    assert links.task_log(PIPE, RUN, "t", -1).endswith("/tasks/t")  # -1: not mapped
    assert Links("/airflow").run(PIPE, "a b#c") == f"/airflow/dags/{PIPE}/runs/a%20b%23c"


# --- the read model on real state ------------------------------------------------------------

def summary(run_id: str, *, dry_run: bool = False, **counts: int) -> dict:
    return {"dag_id": PIPE, "run_id": run_id, "dry_run": dry_run,
            "window": {"start": "2026-11-21T00:00:00+03:00", "end": "2026-11-22T00:00:00+03:00",
                       "source": "manual"},
            "counts": {"extracted": 10, "records": 7, "rejected": 3, **counts},
            "rejected_by_reason": {"no_name": 1, "phone_too_long": 2},
            "errors": [{"ident_id": "F1_7", "reception_id": 7, "step": "contact",
                        "code": "ERROR_CORE", "description": "bad PHONE +79161234567"}],
            "http": {"http_requests": 4, "commands": 21}, "elapsed_s": 3.2}


@pytest.fixture
def filled(state: SyncState) -> SyncState:
    state.store.record_run(PIPE, "manual__old", summary("manual__old", deals_created=5))
    state.store.record_run(PIPE, RUN, summary(RUN, deals_created=2, deals_updated=3,
                                              deals_unchanged=1, deals_failed=1))
    state.store.record_run(SyncConfig.pipeline_id(2), "other", summary("other"))
    too_long = "+7 999 123 45 67 89 01 23"
    rejections = [
        Rejection(11, "F1_11", "phone_too_long", f"F1_11: patient 5: phone {too_long!r} is too "
                                                   "long (17 digits)"),
        Rejection(12, "F1_12", "phone_too_long", "F1_12: patient 6: phone '+7 916 765 43 21 "
                                                   "00 00 00' is too long (17 digits)"),
        Rejection(13, "F1_13", "no_name", "F1_13: the patient has no name"),
    ]
    sources = {11: {"mobile_phone": too_long}, 12: {"mobile_phone": "+7 916 765 43 21 00 00 00"},
               13: {"mobile_phone": "+7 999 765-43-21"}}
    state.store.record_rejections(PIPE, RUN, rejections, sources)
    state.queue.fail(PIPE, RUN, [Refused("F1_20", 20, "contact", "ERROR_CORE",
                                         "Bitrix24 refused phone 8 999 111-22-33")],
                     base_minutes=15, max_attempts=8, task_id="upsert_contacts_deals",
                     map_index=2)
    state.queue.fail(PIPE, RUN, [Refused("F1_21", 21, "comment", "ACCESS_DENIED", "no rights")],
                     base_minutes=15, max_attempts=1, task_id="add_comments", map_index=0)
    return state


def test_pipeline_health_shows_runs_rejections_and_queue(filled: SyncState) -> None:
    h = pipeline_health(filled, PIPE, links=Links("/"), branch_id=1, branch_name="Центр",
                        tz=MSK)
    assert [r["run_id"] for r in h["runs"]] == [RUN, "manual__old"]  # newest first
    run = h["runs"][0]
    assert run["counts"]["deals_created"] == 2 and run["counts"]["deals_failed"] == 1
    assert run["counts"]["contacts_created"] == 0  # every count key, even absent ones
    assert run["http_requests"] == 4 and run["dry_run"] is False
    assert run["window"]["source"] == "manual"
    assert run["run_url"] == f"/dags/{PIPE}/runs/{RUN}"
    assert run["log_url"] == f"/dags/{PIPE}/runs/{RUN}/tasks/run_summary"
    assert run["errors"][0]["description"] == "bad PHONE +7 916 ***-**-67"
    assert run["recorded_at"].endswith("+03:00")  # clinic time

    groups = h["rejections"]["by_reason"]
    assert h["rejections"]["total"] == 3
    assert [(g["reason"], g["count"]) for g in groups] == [("phone_too_long", 2), ("no_name", 1)]
    rec = {r["ident_id"]: r for g in groups for r in g["records"]}
    assert rec["F1_11"]["phone"] == "+* *** *** ** ** ** ** 23"
    assert rec["F1_13"]["phone"] == "+7 999 ***-**-21"
    assert "'+* *** *** ** ** ** ** 23'" in rec["F1_11"]["detail"]
    assert rec["F1_11"]["log_url"] == f"/dags/{PIPE}/runs/{RUN}/tasks/transform"
    assert rec["F1_11"]["run_url"] == f"/dags/{PIPE}/runs/{RUN}"
    assert rec["F1_11"]["times_seen"] == 1 and rec["F1_11"]["first_seen"]

    queued, dead = h["queue"]["queued"], h["queue"]["dead"]
    assert [e["ident_id"] for e in queued] == ["F1_20"]
    assert [e["ident_id"] for e in dead] == ["F1_21"]
    assert queued[0]["attempts"] == 1 and queued[0]["next_attempt_at"]
    assert queued[0]["description"] == "Bitrix24 refused phone +7 999 ***-**-33"
    assert queued[0]["log_url"].endswith("/tasks/upsert_contacts_deals/mapped/2")
    assert dead[0]["log_url"].endswith("/tasks/add_comments/mapped/0")

    text = json.dumps(h, ensure_ascii=False)
    assert full_phones(text) == []
    assert "+7 999 123 45 67" not in text and "765 43 21" not in text


def test_the_chart_reads_the_last_30_days_of_recorded_runs(filled: SyncState, pg_dsn: str
                                                           ) -> None:
    import psycopg2

    # One more run, recorded 40 days ago: past the chart, so not counted.
    filled.store.record_run(PIPE, "scheduled__old", summary("scheduled__old"))
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("UPDATE identsync_runs SET recorded_at = now() - interval '40 days' "
                    "WHERE run_id = 'scheduled__old'")
    h = pipeline_health(filled, PIPE, links=Links("/"), tz=MSK)
    days = h["chart"]["days"]
    assert len(days) == 30 and days[-1]["day"] == datetime.now(MSK).date().isoformat()
    # Branch 1's two runs today (7 synced, 3 rejected, 4 requests each); branch 2's not.
    assert days[-1] == {"day": days[-1]["day"], "runs": 2, "synced": 14, "rejected": 6,
                        "requests": 8}
    assert h["chart"]["totals"] == {"runs": 2, "synced": 14, "rejected": 6, "requests": 8}
    html = render({"timezone": "Europe/Moscow", "pipelines": [h]})
    assert f'<figure class="chart" data-pipeline="{PIPE}">' in html
    assert f'aria-labelledby="chart-{PIPE}-title chart-{PIPE}-desc"' in html
    assert (f'<title>{days[-1]["day"]}: 14 synced, 6 rejected, 8 HTTP requests, 2 runs'
            '</title>') in html


def test_health_report_per_branch_and_access(filled: SyncState) -> None:
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центр"},
                                             {"id": 2, "name": "Север"}],
                                "start_date": str(date(2026, 1, 1))})
    report = health_report(cfg, filled, links=Links("/x/"))
    assert [p["pipeline"] for p in report["pipelines"]] == [PIPE, SyncConfig.pipeline_id(2)]
    assert report["pipelines"][1]["rejections"]["total"] == 0
    assert report["pipelines"][0]["runs"][0]["run_url"].startswith("/x/dags/")
    only_2 = health_report(cfg, filled, links=Links("/"),
                           can_read=lambda p: p == SyncConfig.pipeline_id(2))
    assert [p["branch_id"] for p in only_2["pipelines"]] == [2]

    html = render(report)
    assert "+* *** *** ** ** ** ** 23" in html and "+7 999 ***-**-21" in html
    assert f'href="/x/dags/{PIPE}/runs/{RUN}/tasks/transform"' in html
    assert "data-airflow" in html and "phone_too_long" in html
    assert full_phones(html) == [] and "+7 999 123 45 67" not in html


def test_html_is_escaped(state: SyncState) -> None:
    state.store.record_rejections(PIPE, RUN, [
        Rejection(1, "F1_1", "no_name", "F1_1: <script>alert('x')</script>")], {})
    html = render(health_report(
        SyncConfig.from_dict({"branches": [{"id": 1, "name": "<b>Центр</b>"}]}), state,
        links=Links("/")))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<b>Центр" not in html


def test_fresh_database_shows_nothing_and_creates_nothing(pg_dsn: str) -> None:
    st = SyncState(pg_dsn)  # no ensure_schema: no run has happened yet
    h = pipeline_health(st, PIPE, links=Links("/"))
    assert h["runs"] == [] and h["rejections"]["total"] == 0
    assert h["queue"] == {"queued": [], "dead": []}
    import psycopg2

    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
        assert cur.fetchone()[0] == 0


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_app_refuses_requests_without_an_airflow_login() -> None:
    """Airflow mounts plugin apps without its auth: the app checks the login itself."""
    from fastapi.testclient import TestClient

    from identsync.ui.app import create_app

    client = TestClient(create_app())
    for path in ("/health", "/health.json"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.json() == {"detail": "Not authenticated"}
    assert client.get("/", follow_redirects=False).headers["location"].endswith("/health")


# --- every run on the page: Airflow's own run states, last success, status (issue 21, 6) ----

NOW = datetime(2026, 11, 21, 9, 10, tzinfo=timezone.utc)  # ticks of */30 at :00 and :30


def dag_run(run_id: str, state: str, started_min_ago: float, took_min: float | None = 2,
            run_type: str = "scheduled", conf: dict | None = None) -> dict:
    """A row of Airflow's dag_run table, as identsync.ui.app.dag_runs reads it."""
    start = NOW - timedelta(minutes=started_min_ago)
    return {"run_id": run_id, "state": state, "run_type": run_type,
            "queued_at": start - timedelta(seconds=5), "start_date": start,
            "end_date": None if took_min is None else start + timedelta(minutes=took_min),
            "logical_date": start, "conf": conf or {}}


def health_of(state: SyncState, runs: list[dict] | None, schedule: str = "*/30 * * * *"
              ) -> dict:
    return pipeline_health(state, PIPE, links=Links("/"), tz=MSK, airflow_runs=runs,
                           schedule=schedule, now=NOW)


def test_a_branch_that_synced_on_schedule_is_green(state: SyncState) -> None:
    h = health_of(state, [dag_run("scheduled__1", "success", 10),
                          dag_run("scheduled__0", "success", 40)])
    assert h["health"]["status"] == "green" and h["health"]["reasons"] == []
    assert h["health"]["last_success_ago"] == "8 min ago"  # ended 2 min after its start
    assert h["health"]["last_success_at"] == "2026-11-21T12:02:00+03:00"
    assert [r["state"] for r in h["airflow_runs"]] == ["success", "success"]


def test_a_failed_run_shows_up_and_turns_the_branch_amber(state: SyncState) -> None:
    h = health_of(state, [dag_run("scheduled__ok", "success", 40),
                          dag_run("manual__bad", "failed", 8, run_type="manual")])
    assert h["health"]["status"] == "amber"
    assert h["health"]["reasons"] == ["1 failed run since the last success"]
    assert h["health"]["last_success_ago"] == "38 min ago"
    newest = h["airflow_runs"][0]  # sorted newest first, whatever order Airflow gave
    assert (newest["run_id"], newest["state"], newest["run_type"]) == \
        ("manual__bad", "failed", "manual")
    assert newest["run_url"] == f"/dags/{PIPE}/runs/manual__bad"
    assert newest["duration_s"] == 120
    # The recorded runs know nothing of it: the failed run never reached run_summary.
    assert h["runs"] == []


def test_scheduled_runs_without_success_turn_the_branch_red(state: SyncState) -> None:
    runs = [dag_run("scheduled__ok", "success", 130)] + [
        dag_run(f"scheduled__f{k}", "failed", m) for k, m in enumerate((100, 70, 40, 10))]
    h = health_of(state, runs)
    assert h["health"]["status"] == "red"
    assert h["health"]["last_success_ago"] == "2 h 8 min ago"
    # Ticks after 07:02 UTC: 07:30, 08:00, 08:30 (09:00's run is not due before 09:15).
    assert h["health"]["missed_runs"] == 3
    assert h["health"]["failed_since_success"] == 4
    assert h["health"]["reasons"][0] == ("3 scheduled runs since the last success (2 h 8 min "
                                         "ago) did not succeed")


def test_one_late_tick_is_amber_and_the_branch_schedule_counts(state: SyncState) -> None:
    runs = [dag_run("scheduled__ok", "success", 50)]  # ended 08:22; 08:30 tick due by 08:45
    assert health_of(state, runs)["health"]["status"] == "amber"
    assert health_of(state, runs)["health"]["missed_runs"] == 1
    # Hourly: the next tick is 09:00, due by 09:15 - not yet late.
    assert health_of(state, runs, schedule="0 * * * *")["health"]["status"] == "green"
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "A", "schedule": "0 * * * *"}]})
    report = health_report(cfg, state, links=Links("/"), now=NOW,
                           dag_runs=lambda pipeline, n: runs if pipeline == PIPE else [])
    assert report["pipelines"][0]["health"]["status"] == "green"
    assert report["pipelines"][0]["health"]["schedule"] == "0 * * * *"


def test_never_succeeded_and_failed_is_red_nothing_yet_is_amber(state: SyncState) -> None:
    h = health_of(state, [dag_run("manual__1", "failed", 5, run_type="manual")])
    assert h["health"]["status"] == "red" and h["health"]["last_success_ago"] is None
    assert "no successful run yet" in h["health"]["reasons"]
    empty = health_of(state, [])
    assert empty["health"]["status"] == "amber" and empty["airflow_runs"] == []


def test_a_dry_run_is_no_success(state: SyncState) -> None:
    h = health_of(state, [dag_run("manual__dry", "success", 5, conf={"dry_run": True}),
                          dag_run("scheduled__ok", "success", 200)])
    assert h["health"]["last_success_ago"] == "3 h 18 min ago"
    assert h["health"]["status"] == "red" and h["airflow_runs"][0]["dry_run"] is True


def test_a_run_stuck_running_is_stale(state: SyncState) -> None:
    h = health_of(state, [dag_run("scheduled__stuck", "running", 185, took_min=None),
                          dag_run("scheduled__ok", "success", 5)])
    assert h["airflow_runs"][1]["stale"] is True
    assert h["airflow_runs"][1]["running_for"] == "3 h 5 min"
    assert h["health"]["status"] == "amber"
    assert h["health"]["reasons"] == ["1 run queued or running for 3 h 5 min (stale)"]
    young = health_of(state, [dag_run("scheduled__now", "running", 20, took_min=None),
                              dag_run("scheduled__ok", "success", 25)])
    assert young["health"]["status"] == "green" and not young["airflow_runs"][0]["stale"]


def test_dead_records_turn_the_branch_amber_and_the_page_shows_it_all(filled: SyncState
                                                                      ) -> None:
    runs = [dag_run("scheduled__ok", "success", 40), dag_run("manual__bad", "failed", 8)]
    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центр"}]})
    report = health_report(cfg, filled, links=Links("/"), now=NOW,
                           dag_runs=lambda pipeline, n: runs)
    h = report["pipelines"][0]["health"]
    assert h["status"] == "amber" and h["dead"] == 1
    assert h["reasons"] == ["1 failed run since the last success",
                            "1 dead record (no more tries)"]
    html = render(report)
    assert '<p class="health" data-status="amber">' in html
    assert "Last success: <b class=\"last-success\">38 min ago</b>" in html
    assert 'data-run-id="manual__bad"\n data-state="failed"' in html
    assert f'href="/dags/{PIPE}/runs/manual__bad"' in html
    assert "1 dead record (no more tries)" in html
    json.dumps(report)  # the JSON endpoint serialises exactly this


def test_without_airflows_runs_the_recorded_runs_count(filled: SyncState) -> None:
    h = pipeline_health(filled, PIPE, links=Links("/"), tz=MSK,
                        now=datetime.now(timezone.utc) + timedelta(minutes=3))
    assert h["airflow_runs"] is None and h["health"]["source"] == "recorded runs"
    assert h["health"]["last_success_ago"] == "3 min ago"
    assert "Runs in Airflow" not in render({"timezone": "UTC", "pipelines": [h]})


@pytest.mark.parametrize(("minutes", "text"), [
    (0.5, "just now"), (12, "12 min ago"), (60, "1 h ago"), (185, "3 h 5 min ago"),
    (60 * 24, "1 day ago"), (60 * 52, "2 days 4 h ago")])
def test_age_text(minutes: float, text: str) -> None:
    assert age_text(timedelta(minutes=minutes)) == text


# --- new tries for dead records from the page (issue 21): CSRF-safe, DAG editors only ------

SECRET = "identsync-test-api-secret"


@pytest.fixture
def airflow_auth(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict:
    """Airflow's real simple auth manager in this process, which decides what a user may do:
    an admin (may edit DAGs) and a viewer (may only read them)."""
    import json as _json

    passwords = tmp_path / "passwords.json"
    passwords.write_text(_json.dumps({"admin": "a-pw", "viewer": "v-pw"}), encoding="utf-8")
    for key, value in {
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "identsync-test-jwt-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": SECRET,
        "AIRFLOW__API__BASE_URL": "http://testserver",
    }.items():
        monkeypatch.setenv(key, value)
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    purge_cached_app()
    init_auth_manager()
    yield {name: SimpleAuthManagerUser(username=name, role=name) for name in ("admin", "viewer")}
    purge_cached_app()


@pytest.fixture
def ui(filled: SyncState, airflow_auth: dict):
    from fastapi.testclient import TestClient

    from identsync.ui.app import create_app

    cfg = SyncConfig.from_dict({"branches": [{"id": 1, "name": "Центр"},
                                             {"id": 2, "name": "Север"}]})
    from fastapi import HTTPException

    from identsync.ui.app import airflow_user

    app = create_app(opener=lambda: (cfg, filled), runs_of=None)

    # The login step alone is stood in for: validating a JWT needs Airflow's metadata
    # database (revoked tokens). The page refusing requests without a login is tested above
    # and, with real JWTs and cookies, in Chromium (tests/e2e/test_ui.py).
    def logged_in(request: Request):
        name = request.headers.get("authorization", "").removeprefix("Bearer ")
        if name not in airflow_auth:
            raise HTTPException(401, "Not authenticated")
        return airflow_auth[name]

    app.dependency_overrides[airflow_user] = logged_in
    return TestClient(app, base_url="http://testserver"), airflow_auth


def as_user(users: dict, name: str, **headers: str) -> dict:
    assert name in users
    return {"Authorization": f"Bearer {name}", **headers}


def dead_ids(state: SyncState) -> list[str]:
    return [e["ident_id"] for e in state.queue.entries(PIPE, ("dead",))]


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, "no requeue form on the page"
    return found.group(1)


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_a_dag_editor_gives_dead_records_new_tries(ui, filled: SyncState) -> None:
    from identsync.ui.app import csrf_token

    client, tokens = ui
    assert dead_ids(filled) == ["F1_21"]
    page = client.get("/health", headers=as_user(tokens, "admin"))
    assert page.status_code == 200
    token = form_token(page.text)
    assert token == csrf_token(SECRET, "admin")
    assert 'action="health/requeue"' in page.text
    assert "Give 1 dead record(s) new tries" in page.text
    answer = client.post("/health/requeue", data={"pipeline": PIPE, "csrf_token": token},
                         headers=as_user(tokens, "admin", Origin="http://testserver"),
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/health?requeued={PIPE}&n=1#{PIPE}"
    assert dead_ids(filled) == []
    (row,) = [e for e in filled.queue.entries(PIPE, ("queued",)) if e["ident_id"] == "F1_21"]
    assert row["attempts"] == 0
    after = client.get(answer.headers["location"], headers=as_user(tokens, "admin"))
    assert f"Branch 1 ({PIPE}): 1 dead record(s) queued again" in after.text
    assert 'name="csrf_token"' not in after.text  # nothing dead: no button
    # The note never echoes what the query says, only a pipeline on the page and a number.
    odd = client.get("/health?requeued=<i>odd</i>&n=1", headers=as_user(tokens, "admin"))
    assert "odd</i>" not in odd.text and 'class="message"' not in odd.text


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_a_viewer_sees_no_button_and_is_refused(ui, filled: SyncState) -> None:
    from identsync.ui.app import csrf_token

    client, tokens = ui
    page = client.get("/health", headers=as_user(tokens, "viewer"))
    assert page.status_code == 200 and "F1_21" in page.text  # reads the dead records
    assert 'name="csrf_token"' not in page.text and "new tries" not in page.text
    assert client.get("/health.json", headers=as_user(tokens, "viewer")).json()[
        "pipelines"][0]["can_requeue"] is False
    # Even with a valid token of its own and the right origin, the viewer may not requeue.
    answer = client.post("/health/requeue",
                         data={"pipeline": PIPE, "csrf_token": csrf_token(SECRET, "viewer")},
                         headers=as_user(tokens, "viewer", Origin="http://testserver"),
                         follow_redirects=False)
    assert answer.status_code == 403 and "may not edit the DAG" in answer.json()["detail"]
    assert dead_ids(filled) == ["F1_21"]


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
@pytest.mark.parametrize(("token", "origin", "detail"), [
    (None, "http://testserver", "missing or wrong CSRF token"),
    ("viewer", "http://testserver", "missing or wrong CSRF token"),  # another user's token
    ("0" * 64, "http://testserver", "missing or wrong CSRF token"),
    ("admin", "http://evil.example", "cross-site request refused"),
    ("admin", None, "cross-site request refused"),
    ("admin", "null", "cross-site request refused"),
])
def test_requeue_needs_the_users_token_and_the_same_origin(ui, filled: SyncState, token,
                                                           origin, detail) -> None:
    from identsync.ui.app import csrf_token

    client, tokens = ui
    data = {"pipeline": PIPE}
    if token is not None:
        data["csrf_token"] = csrf_token(SECRET, token) if token in tokens else token
    headers = as_user(tokens, "admin", **({"Origin": origin} if origin else {}))
    answer = client.post("/health/requeue", data=data, headers=headers, follow_redirects=False)
    assert answer.status_code == 403 and answer.json()["detail"] == detail
    assert dead_ids(filled) == ["F1_21"]
    # GET is no way in either, and without a login there is no answer at all.
    assert client.get("/health/requeue", headers=as_user(tokens, "admin")).status_code == 405
    assert client.post("/health/requeue", data=data).status_code == 401


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_requeue_of_an_unknown_pipeline_is_404(ui, filled: SyncState) -> None:
    from identsync.ui.app import csrf_token

    client, tokens = ui
    answer = client.post("/health/requeue",
                         data={"pipeline": "other_dag", "csrf_token": csrf_token(SECRET, "admin")},
                         headers=as_user(tokens, "admin", Referer="http://testserver/health"),
                         follow_redirects=False)
    assert answer.status_code == 404 and dead_ids(filled) == ["F1_21"]


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_without_a_server_secret_there_is_no_button_and_no_requeue(
        ui, filled: SyncState, monkeypatch: pytest.MonkeyPatch) -> None:
    from identsync.ui.app import csrf_token

    client, tokens = ui
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "")
    page = client.get("/health", headers=as_user(tokens, "admin"))
    assert page.status_code == 200 and 'name="csrf_token"' not in page.text
    answer = client.post("/health/requeue",
                         data={"pipeline": PIPE, "csrf_token": csrf_token("", "admin")},
                         headers=as_user(tokens, "admin", Origin="http://testserver"))
    assert answer.status_code == 403 and dead_ids(filled) == ["F1_21"]
