"""tools/leakscan.py: finds a phone in any formatting, names and comments through JSON escapes
and case, the token; never prints what it looks for; masked text is no hit."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tools import leakscan
from tools.leakscan import Matcher, Needles

PHONE = "+79165557319"
NAME = "Зябликова Аглая Феоктистовна"
COMMENT = "Аллергия на лидокаин; беременность 12 недель, наблюдается у гинеколога"
TOKEN = "k3y5ecr3tt0ken"
N = Needles.of([PHONE], [NAME], [COMMENT], [TOKEN])


@pytest.mark.parametrize("text", [
    "phone +7 916 555-73-19 refused", "8(916)5557319", "tel: 8 916 555 73 19;",
    '"phone": "+79165557319"', "79165557319", "+7-916-555-7319"])
def test_a_phone_in_any_formatting(text):
    assert Matcher(N).find(text) == [("phone", 0)]


@pytest.mark.parametrize("text", [
    "+7 *** ***-**-19", "+7916*****19", "2026-11-21 06:00 reception 501", "916555",
    "deal 9165557 created"])
def test_masked_or_other_numbers_are_no_hit(text):
    assert Matcher(N).find(text) == []


def test_names_comments_and_token_through_escapes_case_and_whitespace():
    m = Matcher(N)
    escaped = json.dumps({"n": NAME.upper(), "c": COMMENT[:45] + "…"}, ensure_ascii=True)
    assert sorted(m.find(escaped)) == [("comment", 0), ("name", 0)]
    assert m.find("Зябликова   Аглая\nФеоктистовна") == [("name", 0)]
    assert m.find(f"https://clinic.bitrix24.ru/rest/1/{TOKEN}/crm.deal.add") == [("token", 0)]
    assert m.find("Зябликова А. Ф.") == []  # masked or abbreviated: not the full name


def test_logs_and_a_database_are_scanned_and_the_needles_never_printed(tmp_path, capsys):
    logs = tmp_path / "logs" / "dag_id=x" / "run_id=r"
    logs.mkdir(parents=True)
    (logs / "attempt=1.log").write_text(f"ok\nrefused: phone 8 916 555-73-19\n",
                                        encoding="utf-8")
    (logs / "attempt=2.log").write_text("contact +7 *** ***-**-19 refused\n", encoding="utf-8")
    db = tmp_path / "airflow.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE xcom (key text, value text)")
    conn.execute("INSERT INTO xcom VALUES ('return_value', ?)",
                 (json.dumps({"name": NAME}),))
    conn.execute("INSERT INTO xcom VALUES ('return_value', '{\"count\": 3}')")
    conn.commit()
    conn.close()
    needles = tmp_path / "needles.json"
    needles.write_text(json.dumps({"phones": [PHONE], "names": [NAME], "comments": [COMMENT],
                                   "tokens": [TOKEN]}), encoding="utf-8")
    rc = leakscan.main(["--needles", str(needles), "--logs", str(tmp_path / "logs"),
                        "--db", f"sqlite:///{db}"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "2 log files" in out and "2 xcom rows" in out and "4 needles" in out
    assert "HIT phone #0 in " in out and "attempt=1.log:2" in out
    assert "HIT name #0 in sqlite:///" in out and ":xcom" in out
    assert "leakscan: 2 hits" in out
    for secret in ("9165557319", "Зябликова", "лидокаин", TOKEN):
        assert secret not in out
    # Allowed tables: the hit is listed apart and the scan passes.
    rc = leakscan.main(["--needles", str(needles), "--db", f"sqlite:///{db}",
                        "--allow", "xcom"])
    assert rc == 0 and "allowed: 1 name hit(s) in xcom" in capsys.readouterr().out


def test_usage_errors(tmp_path, capsys):
    assert leakscan.main(["--logs", str(tmp_path)]) == 2  # no needles
    assert leakscan.main(["--phone", PHONE]) == 2  # nothing to scan
    assert leakscan.main(["--phone", PHONE, "--db", "sqlite:////nonexistent/dir/x.db"]) == 2
    assert "ERROR db sqlite:" in capsys.readouterr().out


def test_a_dsn_is_reported_without_its_password():
    assert leakscan._safe_url("postgresql://u:s3cret@h:5432/db?options=x") == \
        "postgresql://u:***@h:5432/db"
    assert "s3cret" not in leakscan._safe_url("host=h password=s3cret dbname=x")


# --- surnames, doctors, escapes, pages, mails ------------------------------------------------

DOCTOR = "Зябликов Пётр Ильич"  # a doctor who shares a patient's surname stem


def test_a_surname_alone_is_found_as_a_whole_word_in_json_fields():
    m = Matcher(Needles.of(surnames=["Зябликова"]))
    assert m.find(json.dumps({"surname": "Зябликова", "name": "Аглая"})) == [("surname", 0)]
    assert m.find('{"surname": "ЗЯБЛИКОВА"}') == [("surname", 0)]
    assert m.find("Зябликовамм") == [] and m.find("З. А.") == []


def test_a_doctors_name_is_no_hit():
    needles = Needles.of(surnames=["Зябликов", "Ли", "Зябликова"],
                         names=["Зябликова Аглая Феоктистовна"], not_patients=[DOCTOR])
    m = Matcher(needles)
    # The doctor's surname is not looked for alone, nor a surname under 4 letters.
    assert m.dropped_surnames == 2
    assert m.find(f"deal for doctor {DOCTOR}, chair 3") == []
    assert m.find("Зябликова Аглая") == [("name", 0), ("surname", 2)]
    assert m.find("Аглая Зябликова") == [("name", 0), ("surname", 2)]


def test_phones_in_fullwidth_digits_and_json_in_json():
    m = Matcher(N)
    assert m.find("８９１６５５５７３１９") == [("phone", 0)]
    inner = json.dumps({"detail": f"{NAME}: bad phone"}, ensure_ascii=True)
    outer = json.dumps({"value": inner}, ensure_ascii=True)  # \\u0417 twice escaped
    assert m.find(outer) == [("name", 0)]


def test_html_entities_on_a_page_are_decoded():
    m = Matcher(Needles.of(comments=['Пациент сказал: "без анестезии" & <ушёл>']))
    page = "<td>Пациент сказал: &quot;без анестезии&quot; &amp; &lt;ушёл&gt;</td>"
    assert m.find(page) == [("comment", 0)]


def test_a_short_comment_is_not_looked_for():
    assert Matcher(Needles.of(comments=["да", "ok"])).find("да, ok") == []


def test_a_mail_is_scanned_decoded():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "IDENT sync: 1 records dead"
    msg.set_content(f"<p>refused: {NAME}, 8 916 555 73 19</p>", subtype="html",
                    cte="base64")
    raw = msg.as_bytes()
    assert NAME.encode() not in raw and b"555 73 19" not in raw  # base64 on the wire
    report = leakscan.run(N, mail_texts={"mail 1": leakscan.mail_text(raw)})
    assert sorted(h.kind for h in report.hits) == ["name", "phone"]
    assert report.scanned["mails"] == 1


# --- pg_dump: hits by table and column, allowed only where docs/privacy.md says, in time -----

INVENTORY = """
### `identsync_rejections`

Kept: source and detail until `retention_days` after `last_seen`; a resolved one is deleted
`retention_days` after `resolved_at`.

| column | holds | personal |
|---|---|---|
| `record_key` | key | pseudonymous |
| `detail` | sentence | **yes** |
| `source` | the row | **yes** |
| `last_seen` | date | no |
| `resolved_at` | date | no |

### `identsync_phone_writes`

Kept: deleted after the last write.

| column | holds | personal |
|---|---|---|
| `phone_key` | keyed hash | pseudonymous |
| `written_at` | date | no |
"""


def _dump(rows):
    out = ["SET statement_timeout = 0;\n",
           'COPY "s1".identsync_rejections (record_key, detail, source, last_seen, '
           "resolved_at) FROM stdin;\n"]
    out += ["\t".join(r) + "\n" for r in rows]
    out += ["\\.\n", "COPY s1.identsync_phone_writes (phone_key, written_at) FROM stdin;\n",
            "+79165557319\t2026-12-01 00:00:00+00\n", "\\.\n"]
    return out


def test_pg_dump_rows_are_allowed_only_in_personal_columns_within_retention():
    from datetime import datetime, timezone

    now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    source = json.dumps({"surname": "Зябликова", "phone": "8 (916) 555-73-19",
                         "comment": COMMENT}, ensure_ascii=False).replace("\\", "\\\\")
    lines = _dump([
        ["F1_1", "bad phone 8 916 555 73 19", source, "2026-12-05 10:00:00+00", "\\N"],
        ["F1_2", "bad phone 8 916 555 73 19", "\\N", "2026-11-01 10:00:00+00", "\\N"],
        ["F1_3 Зябликова Аглая", "ok", "\\N", "2026-12-05 10:00:00+00", "\\N"],
        ["F1_4", f"token {TOKEN}", "\\N", "2026-12-05 10:00:00+00", "\\N"],
        # Resolved recently: the latest of the Kept line's clocks counts.
        ["F1_5", "phone 89165557319", "\\N", "2026-10-01 10:00:00+00",
         "2026-12-04 09:00:00+00"],
    ])
    inventory = leakscan.parse_inventory(INVENTORY)
    assert inventory["identsync_rejections"].personal == {"detail", "source"}
    assert inventory["identsync_rejections"].clocks == ("last_seen", "resolved_at")
    assert inventory["identsync_phone_writes"].clocks == ()
    rule = leakscan.Allowance(inventory, retention_days=7, now=now)
    m = Matcher(N)
    allowed, hits = [], []
    for _, _, found, row in leakscan.parse_pg_dump(lines, m, "db"):
        for h in found:
            (allowed if rule.allows(h, row) else hits).append(h)
    assert sorted((h.where.rsplit(":", 1)[1], h.kind) for h in allowed) == [
        ("identsync_rejections.detail row 1", "phone"),
        ("identsync_rejections.detail row 5", "phone"),
        ("identsync_rejections.source row 1", "comment"),
        ("identsync_rejections.source row 1", "phone")]
    assert sorted((h.where.rsplit(":", 1)[1], h.kind) for h in hits) == [
        ("identsync_phone_writes.phone_key row 1", "phone"),  # pseudonymous: a hash, not this
        ("identsync_rejections.detail row 2", "phone"),  # past retention
        ("identsync_rejections.detail row 4", "token"),  # a token is allowed nowhere
        ("identsync_rejections.record_key row 3", "name")]  # not a personal column


def test_copy_fields_are_unescaped():
    assert leakscan._copy_field("a\\tb\\\\u0417\\n") == "a\tb\\u0417\n"
    assert leakscan._copy_field("\\N") is None


def test_the_real_inventory_allows_only_personal_state_columns():
    from tools.localairflow import ROOT

    inv = leakscan.parse_inventory((ROOT / "docs" / "privacy.md").read_text(encoding="utf-8"))
    assert inv["identsync_rejections"].personal == {"detail", "source"}
    assert "last_seen" in inv["identsync_rejections"].clocks
    assert inv["identsync_phone_writes"].personal == frozenset()
    for table, policy in inv.items():  # every table with personal data has a clock
        assert not policy.personal or policy.clocks or table == "identsync_comment_ledger", table


def test_a_patient_named_like_a_doctor_is_not_looked_for_by_name():
    m = Matcher(Needles.of(names=["Петров Иван Сергеевич", "Зябликова Аглая"],
                           not_patients=["Петров Иван Андреевич"]))
    assert m.dropped_names == 1
    assert m.find("врач Петров Иван Андреевич; пациент Аглая Зябликова") == [("name", 1)]


def test_the_cli_scans_pages_and_mails_and_checks_the_inventory(tmp_path, capsys):
    from email.message import EmailMessage

    page = tmp_path / "health.html"
    page.write_text("<td>+7 916 ***-**-19</td><td>З. А.</td>", encoding="utf-8")
    mails = tmp_path / "mails"
    mails.mkdir()
    msg = EmailMessage()
    msg["Subject"] = "dead records"
    msg.set_content("refused: 8 916 555 73 19", cte="quoted-printable")
    (mails / "1.eml").write_bytes(msg.as_bytes())
    args = ["--phone", PHONE, "--name", NAME, "--page", str(page), "--mails", str(mails)]
    assert leakscan.main(args) == 1
    out = capsys.readouterr().out
    assert "1 pages" in out and "1 mails" in out and "HIT phone #0 in " in out
    assert "1.eml" in out and "health.html" not in out.split("HIT", 1)[1]
    from tools.localairflow import ROOT

    inventory = str(ROOT / "docs" / "privacy.md")
    assert leakscan.main(args + ["--inventory", inventory]) == 2  # needs --retention-days
    assert "needs --retention-days" in capsys.readouterr().err


def test_a_name_matches_as_whole_words_only():
    m = Matcher(Needles.of(names=["Петров Иван Сергеевич"]))
    assert m.find("Петрова Ивана Сергеевну") == [] and m.find("Иван Петров") == [("name", 0)]
