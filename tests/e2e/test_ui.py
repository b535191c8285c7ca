"""Airflow's UI in headless Chromium: the sync-health page and the Bitrix24 connection form.

One module-scoped stack: a demo clinic with the bad-input corpus, one real
``airflow dags test`` run of branch 1 against the emulator (so there are real rejections),
then ``airflow api-server`` (simple auth manager, a known admin) on that SQLite metadata DB.
Chromium logs in through the real login form. Screenshots go to a temporary folder (a test
never rewrites tracked files); IDENTSYNC_SCREENSHOTS=docs/img refreshes README's on purpose.
A second ``airflow dags test`` run fails (a bad date_from): only Airflow's own run states know
of it, and the page must show it. The admin gives dead records new tries from the page.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from identsync.state import SyncState
from tests.fixtures.airflow import airflow, airflow_env, migrate, write_config
from tests.fixtures.emulator import TEST_TOKEN
from tests.fixtures.ui import ADMIN, api_server, api_token, chromium, free_port, login_env
from tools import pgserver
from tools.ident_demo.badinput import insert_bad_inputs
from tools.ident_demo.clinic import create_schema, generate_clinic
from tools.localairflow import ROOT

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(600)]

DAG_ID = "ident_to_bitrix24_branch_1"
CONF = {"date_from": "2026-11-01", "date_to": "2026-12-31"}
BAD_CONF = {"date_from": "not-a-date"}
WRONG_TOKEN = "wrong-SECRET-token-4242"
HEALTH = "/identsync/health"
# Ten or more digits with only phone punctuation between them (dates and times taken out).
FULL_PHONE = re.compile(r"\d(?:[\s\-()\u00a0]*\d){9,}")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def full_phones(text: str) -> list[str]:
    return FULL_PHONE.findall(DATE_TIME.sub(" ", text))


@pytest.fixture(scope="module")
def img(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: a temporary folder unless IDENTSYNC_SCREENSHOTS names one."""
    wanted = os.environ.get("IDENTSYNC_SCREENSHOTS")
    folder = (ROOT / wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, emulator_session: Any) -> Any:
    emulator_session.reset("all,config")
    tmp = tmp_path_factory.mktemp("ui")
    ident_db = tmp / "ident.sqlite3"
    engine = sa.create_engine(f"sqlite:///{ident_db}")
    create_schema(engine)
    generate_clinic(engine, seed=3, receptions=40, patients=20, start=date(2026, 11, 20),
                    days=2, now=datetime(2026, 11, 21, 12, 0))
    insert_bad_inputs(engine, start=datetime(2026, 11, 21, 6, 0))
    engine.dispose()
    home = tmp / "airflow"
    port = free_port()
    with pgserver.scratch_schema("test", "ui") as state_dsn:
        env = airflow_env(home, emulator_base_url=emulator_session.base_url, token=TEST_TOKEN,
                          ident_db=ident_db, state_dsn=state_dsn,
                          config=write_config(tmp / "identsync.json", retry_delay_seconds=1),
                          extra=login_env(home, port))
        migrate(env)
        # Before the api-server starts: SQLite takes one writer at a time.
        airflow(env, "dags", "test", DAG_ID, "-c", json.dumps(CONF))
        # A run that fails in its first task: it never reaches run_summary.
        failed = airflow(env, "dags", "test", DAG_ID, "-c", json.dumps(BAD_CONF), check=False)
        assert "not-a-date" in failed.stdout + failed.stderr
        state = SyncState(state_dsn)
        with api_server(env, tmp / "api-server.log") as base:
            yield {"base": base, "env": env, "emu": emulator_session, "state": state,
                   "log": tmp / "api-server.log"}


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def session(browser: Any, stack: Any) -> Any:
    """A browser context logged in once, through Airflow's own login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(stack["base"] + "/")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack["base"] + "/")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(session: Any) -> Any:
    """A new tab of the logged-in session."""
    page = session.new_page()
    yield page
    page.close()


def test_health_endpoints_need_an_airflow_login(stack: Any, browser: Any) -> None:
    base = stack["base"]
    for path in (HEALTH, HEALTH + ".json"):
        assert requests.get(base + path, timeout=10).status_code in (401, 403)
        bad_bearer = {"Authorization": "Bearer not-a-jwt"}
        assert requests.get(base + path, headers=bad_bearer, timeout=10).status_code in (401, 403)
        bad_cookie = {"_token": "not-a-jwt"}
        assert requests.get(base + path, cookies=bad_cookie, timeout=10).status_code in (401, 403)
    # A browser that never logged in gets the same answer, not the page.
    context = browser.new_context()
    try:
        answer = context.new_page().goto(base + HEALTH)
        assert answer is not None and answer.status in (401, 403)
    finally:
        context.close()
    # With Airflow's own JWT (the REST API's token endpoint) the JSON is there.
    token = api_token(base)
    ok = requests.get(base + HEALTH + ".json", headers={"Authorization": f"Bearer {token}"},
                      timeout=30)
    assert ok.status_code == 200, ok.text
    assert [p["pipeline"] for p in ok.json()["pipelines"]][0] == DAG_ID
    # The plugin registered its external view (the nav link) with the API.
    plugins = requests.get(base + "/api/v2/plugins", timeout=10,
                           headers={"Authorization": f"Bearer {token}"}).json()["plugins"]
    views = [v for p in plugins if p["name"] == "identsync_ui" for v in p["external_views"]]
    assert [v["href"] for v in views] == [HEALTH]


def test_health_page_shows_the_run_rejections_masked_and_links(page: Any, stack: Any,
                                                                img: Path) -> None:
    base, state = stack["base"], stack["state"]
    (run,) = state.store.last_runs(DAG_ID, 5)
    counts = run["summary"]["counts"]
    rejections = state.store.open_rejections(DAG_ID)
    by_reason = Counter(r["reason"] for r in rejections)
    assert counts["rejected"] == len(rejections) > 0 and counts["deals_created"] > 0

    # Through the UI's own navigation: Browse -> Sync health (the plugin's external view).
    page.goto(base + "/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_text("Sync health").click()
    page.wait_for_url("**/plugin/sync-health**")
    frame = page.frame_locator("iframe[title='Sync health']")
    section = frame.locator(f"section[data-pipeline='{DAG_ID}']")
    row = section.locator(f"tr.run[data-run-id='{run['run_id']}']")
    row.wait_for()
    deals = (f"{counts['deals_created']} / {counts['deals_updated']} / "
             f"{counts['deals_unchanged']} / {counts['deals_failed']}")
    assert " ".join(row.locator("td.deals").inner_text().split()) == deals
    assert row.locator("td.rejected").inner_text().strip() == str(counts["rejected"])
    http = run["summary"]["http"]["http_requests"]
    assert row.locator("td.http").inner_text().strip() == str(http)
    assert section.locator(".n-rejections").inner_text() == str(len(rejections))
    for reason, n in by_reason.items():
        group = section.locator(f"details[data-reason='{reason}']")
        assert group.locator("summary").inner_text().strip() == f"{reason}: {n}"
        assert group.locator("table.rejections tr").count() == n + 1  # + the header
    page.screenshot(path=str(img / "sync-health.png"))

    # Every run Airflow has, the failed one too, newest first; the branch is amber for it.
    states = section.locator("tr.airflow-run")
    assert [states.nth(i).get_attribute("data-state") for i in range(states.count())] == [
        "failed", "success"]
    assert states.nth(1).get_attribute("data-run-id") == run["run_id"]
    assert section.locator("p.health").get_attribute("data-status") == "amber"
    assert "1 failed run since the last success" in section.locator("ul.reasons").inner_text()
    assert re.fullmatch(r"(just now|\d+ min ago)",
                        section.locator(".last-success").inner_text().strip())
    overview = frame.locator(f"table.overview-table tr[data-pipeline='{DAG_ID}']")
    assert overview.locator(".status").inner_text().strip() == "amber"

    # No patient's phone in full, in the page or its JSON.
    html = frame.locator("html").evaluate("e => e.outerHTML")  # the iframe's document
    data = page.request.get(base + HEALTH + ".json")  # the same login cookie
    assert data.status == 200
    text = data.text()
    phones = [str((r["source"] or {}).get("mobile_phone") or "") for r in rejections]
    phones = [p for p in phones if len(re.sub(r"\D", "", p)) >= 7]
    assert phones, "the corpus has rejections whose patient has a phone"
    for doc in (html, text):
        assert full_phones(doc) == []
        for raw in phones:
            assert raw not in doc and raw.replace(" ", "") not in doc
    assert DAG_ID in html and "***-**-" in html and "***-**-" in text

    # Links: the run page and the transform task's log page, opened in Airflow's UI.
    run_path = f"/dags/{DAG_ID}/runs/{run['run_id']}"
    assert row.locator("a.run-link").get_attribute("href") == run_path
    logs = section.locator("table.rejections a.log-link")
    assert logs.count() == len(rejections)
    assert {logs.nth(i).get_attribute("href") for i in range(logs.count())} == {
        f"{run_path}/tasks/transform"}
    logs.first.click()
    page.wait_for_url(f"**{run_path}/tasks/transform")
    page.get_by_text("Logs", exact=True).first.wait_for()  # the task page, on its log tab


@dataclass(frozen=True)
class Refused:
    """A record the portal refused, as RetryQueue.fail reads it."""

    ident_id: str
    reception_id: int
    step: str
    code: str
    description: str


def test_chart_and_new_tries_for_dead_records(page: Any, stack: Any, img: Path) -> None:
    """The 30-day chart shows the recorded run; the admin (may edit the DAG) gives the dead
    records new tries with the page's button; without the form's token or from another
    origin the same login is refused."""
    base, state = stack["base"], stack["state"]
    (run,) = state.store.last_runs(DAG_ID, 5)
    state.queue.fail(DAG_ID, run["run_id"], [
        Refused(f"F1_90{k}", 900 + k, "comment", "ACCESS_DENIED", "no rights") for k in (1, 2)],
        base_minutes=15, max_attempts=1, task_id="add_comments", map_index=0)
    assert len(state.queue.entries(DAG_ID, ("dead",))) == 2

    page.goto(base + "/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_text("Sync health").click()
    frame = page.frame_locator("iframe[title='Sync health']")
    section = frame.locator(f"section[data-pipeline='{DAG_ID}']")
    section.wait_for()
    assert section.locator(".n-dead").inner_text() == "2"

    # The chart: 30 days, the run's receptions and requests on its day, the rest zeros.
    days = section.locator("svg.chart g.day")
    assert days.count() == 30
    synced = [int(days.nth(i).get_attribute("data-synced") or 0) for i in range(30)]
    requests_ = [int(days.nth(i).get_attribute("data-requests") or 0) for i in range(30)]
    counts, http = run["summary"]["counts"], run["summary"]["http"]["http_requests"]
    assert sum(synced) == counts["records"] > 0 and sum(requests_) == http > 0
    assert synced.count(0) >= 29  # one run, one day
    assert section.locator("svg.chart").get_attribute("role") == "img"

    # A request with the login cookie but not from the page: refused, nothing changes.
    token = section.locator("form.requeue input[name='csrf_token']").get_attribute("value")
    url = base + HEALTH + "/requeue"
    no_origin = page.request.post(url, form={"pipeline": DAG_ID, "csrf_token": token},
                                  max_redirects=0)
    wrong_token = page.request.post(url, form={"pipeline": DAG_ID, "csrf_token": "0" * 64},
                                    headers={"Origin": base}, max_redirects=0)
    assert (no_origin.status, wrong_token.status) == (403, 403)
    assert len(state.queue.entries(DAG_ID, ("dead",))) == 2

    button = section.locator("form.requeue button")
    assert button.inner_text().strip() == "Give 2 dead record(s) new tries"
    button.click()
    frame.locator("p.message").wait_for()
    assert "2 dead record(s) queued again" in frame.locator("p.message").inner_text()
    section = frame.locator(f"section[data-pipeline='{DAG_ID}']")
    assert section.locator(".n-dead").inner_text() == "0"
    assert section.locator("form.requeue").count() == 0
    assert state.queue.entries(DAG_ID, ("dead",)) == []
    queued = {e["ident_id"]: e for e in state.queue.entries(DAG_ID, ("queued",))}
    assert {"F1_901", "F1_902"} <= set(queued) and queued["F1_901"]["attempts"] == 0
    section.locator("svg.chart").scroll_into_view_if_needed()
    page.screenshot(path=str(img / "sync-health-chart.png"))


def add_bitrix24_connection(page: Any, conn_id: str, url: str, plan: str) -> None:
    page.get_by_role("button", name="Add Connection").click()
    page.get_by_label("Connection ID").fill(conn_id)
    page.get_by_role("combobox").fill("Bitrix24")
    page.get_by_role("option", name="Bitrix24", exact=True).click()
    password = page.get_by_label("Webhook URL")
    assert password.get_attribute("type") == "password"
    password.fill(url)
    page.get_by_role("button", name="Extra Fields", exact=True).click()
    page.locator("#element_plan").get_by_role("combobox").fill(plan)
    page.get_by_role("option", name=plan, exact=True).click()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("dialog").wait_for(state="hidden")


def conn_row(page: Any, conn_id: str) -> Any:
    return page.get_by_role("row").filter(has=page.get_by_text(conn_id, exact=True))


def click_test(page: Any, conn_id: str, outcome: str) -> tuple[dict[str, Any], str]:
    """Click the row's Test button; the API's answer and the toast the page shows
    ("Test Connection Successful" or "... Failed": ``outcome``)."""
    with page.expect_response("**/api/v2/connections/test") as answer:
        conn_row(page, conn_id).get_by_role("button", name="Test Connection").click()
    toast = page.locator("[data-scope=toast][data-part=root]").filter(
        has_text=f"Test Connection {outcome}").last
    toast.wait_for()
    return answer.value.json(), toast.inner_text()


def test_bitrix24_connection_form_and_test_button(page: Any, stack: Any, img: Path) -> None:
    emu = stack["emu"]
    page.goto(stack["base"] + "/connections")
    add_bitrix24_connection(page, "bitrix24_ui", emu.webhook_url, "unlimited")
    answer, toast = click_test(page, "bitrix24_ui", "Successful")
    assert answer["status"] is True, answer
    expected = f"connected to 127.0.0.1:{emu.port} as user 1"
    assert expected in answer["message"] and expected in toast
    # For the docs: the stored connection's form, with the test's answer still beside it.
    conn_row(page, "bitrix24_ui").get_by_role("button", name="Edit Connection").click()
    page.get_by_label("Webhook URL").wait_for()
    page.wait_for_timeout(700)  # the dialog's opening animation
    page.screenshot(path=str(img / "bitrix24-connection.png"))
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="hidden")

    # The stored connection: type bitrix24, URL in the password, plan in extra.
    token = api_token(stack["base"])
    stored = requests.get(stack["base"] + "/api/v2/connections/bitrix24_ui", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert stored["conn_type"] == "bitrix24" and json.loads(stored["extra"]) == {
        "plan": "unlimited"}
    assert TEST_TOKEN not in json.dumps(stored)

    add_bitrix24_connection(page, "bitrix24_wrong",
                            emu.webhook_url.replace(TEST_TOKEN, WRONG_TOKEN), "standard")
    answer, toast = click_test(page, "bitrix24_wrong", "Failed")
    assert answer["status"] is False and "NO_AUTH_FOUND" in answer["message"]
    assert "NO_AUTH_FOUND" in toast
    for secret in (WRONG_TOKEN, TEST_TOKEN):
        assert secret not in toast and secret not in page.content()
        assert secret not in answer["message"]
    log = Path(stack["log"]).read_text(errors="replace")
    assert TEST_TOKEN not in log and WRONG_TOKEN not in log
