#!/usr/bin/env python3
"""The standing leak test: look for patients' data and the webhook token where it must not be.

    python -m tools.leakscan --needles needles.json [--phone P] [--name N] [--surname S]
        [--comment C] [--token T] [--not-a-patient NAME]...
        [--logs DIR]... [--db SQLALCHEMY_URL [--db-table T]...]... [--page FILE]...
        [--mails DIR]... [--pg-dump DSN [--pg-schema S]]...
        [--inventory docs/privacy.md --retention-days N] [--allow TABLE]... [--json]

``needles.json``: ``{"phones": [...], "names": [...], "surnames": [...], "comments": [...],
"tokens": [...], "not_patients": [...]}`` (the fixture patients of the run that was scanned).
What is scanned:

* ``--logs DIR``: every file under DIR (task logs, process logs), line by line;
* ``--db URL``: every row of the tables of a database SQLAlchemy reads (Airflow's metadata
  database: ``xcom``, ``rendered_task_instance_fields``; ``--db-table`` narrows it);
* ``--page FILE``: a saved page (the health page's HTML and JSON), HTML entities decoded;
* ``--mails DIR``: every ``*.eml`` under DIR, every text part decoded (base64, quoted-
  printable), with its subject;
* ``--pg-dump DSN``: ``pg_dump --data-only`` of a PostgreSQL database (or one schema of it),
  each COPY field decoded and its hits named by table and column.

What matches (decided here, tested in tests/unit/test_leakscan.py):

* a phone, in any formatting (``+7 916 555-73-19``, ``8(916)5557319``, fullwidth digits): the
  last ten digits of the needle (all of them if it has fewer; needles under 7 digits are
  ignored, they would match dates and counts) inside the digit-only projection of any run of
  digits and phone punctuation. A masked phone (``+7 916 ***-**-19``) breaks the run: no hit;
* a full name: the whole name, or its first two words (surname and first name) in either
  order, ignoring case, whitespace runs, JSON ``\\uXXXX`` escapes and HTML entities. An
  abbreviated or masked name (``Зябликова А. Ф.``, ``З.``) is no hit; a name whose forms a
  ``not_patients`` name contains (a doctor with the same surname and first name) is not
  looked for;
* a surname alone (``surnames``): only as a whole word of at least 4 letters, and never one
  that is a word of a ``not_patients`` name (the clinic's doctors, staff, branches): a
  doctor's surname on every deal must not drown the scan. JSON rows carry names field by field
  (``"surname": ..., "name": ...``), where only the surname finds them;
* a free-text comment: the whole text, or its first 40 characters (texts get capped), same
  normalisation as names; comments under 6 characters ("да", "ok") are not looked for;
* a token: the exact string, anywhere.

Where hits are allowed: only in state tables, and only in the columns, that docs/privacy.md's
inventory marks personal **yes** (``--inventory``), and there only while the row is within
retention: younger than ``--retention-days`` by the latest of the columns the table's *Kept*
line counts from ("... `retention_days` after `last_seen`"). A table with personal columns
and no such clock allows nothing. Tokens are allowed nowhere (the connection table holds the
webhook only encrypted with the Fernet key, where the plain token cannot match). ``--allow
TABLE`` allows a whole table without the retention check (for callers that age rows
themselves). The report never prints a needle: a hit names its kind, its number in the
needles file and where it is. Exit codes: 0 no disallowed hit, 1 hits, 2 usage error or a
source that could not be read.
"""

from __future__ import annotations

import argparse
import email
import html
import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.policy import default as email_policy
from pathlib import Path

_RUN = re.compile(r"\+?\d[\d\s().\-/]*\d")  # a run of digits and phone punctuation
_UESC = re.compile(r"\\+u([0-9a-fA-F]{4})")  # JSON escapes, also escaped again (JSON in JSON)
_WS = re.compile(r"\s+")
_COPY = re.compile(r'^COPY ([\w."]+) \((.*)\) FROM stdin;$')
_COPY_ESC = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))")
PHONE_DIGITS = 10  # a Russian number without its country code; shorter phones: all digits
PHONE_MIN_DIGITS = 7
COMMENT_PROBE = 40  # a long comment is also found by its start (texts get capped)
SURNAME_MIN = 4
COMMENT_MIN = 6


@dataclass(frozen=True)
class Needles:
    phones: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    surnames: tuple[str, ...] = ()
    not_patients: tuple[str, ...] = ()  # doctors, staff, branches: their words never match

    @classmethod
    def of(cls, phones: Iterable[str] = (), names: Iterable[str] = (),
           comments: Iterable[str] = (), tokens: Iterable[str] = (),
           surnames: Iterable[str] = (), not_patients: Iterable[str] = ()) -> Needles:
        def keep(values: Iterable[str | None]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v for v in (str(x).strip() for x in values
                                                   if x is not None) if v))
        return cls(keep(phones), keep(names), keep(comments), keep(tokens), keep(surnames),
                   keep(not_patients))

    def __len__(self) -> int:
        return (len(self.phones) + len(self.names) + len(self.comments) + len(self.tokens)
                + len(self.surnames))


@dataclass(frozen=True)
class Hit:
    kind: str  # phone | name | surname | comment | token
    number: int  # index of the needle in its list (the needle itself is never printed)
    where: str  # file:line, db:table row, pg_dump db:table.column row
    table: str | None = None
    column: str | None = None


def _norm(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _decode(text: str) -> str:
    """What a reader sees: JSON escapes and HTML entities resolved, NFKC (fullwidth digits)."""
    if "\\u" in text:
        def one(m: re.Match[str]) -> str:
            ch = chr(int(m.group(1), 16))
            return m.group(0) if 0xD800 <= ord(ch) <= 0xDFFF else ch
        text = _UESC.sub(one, text)
    if "&" in text:
        text = html.unescape(text)
    return unicodedata.normalize("NFKC", text)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]+", _norm(text)))


class Matcher:
    """Compiled needles: ``find(text)`` -> (kind, number) of every needle in ``text``."""

    def __init__(self, needles: Needles) -> None:
        self._tokens = list(enumerate(needles.tokens))
        self._phones: list[tuple[int, str]] = []
        for i, p in enumerate(needles.phones):
            digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", p))
            if len(digits) >= PHONE_MIN_DIGITS:
                self._phones.append((i, digits[-PHONE_DIGITS:]))
        staff_names = {_norm(n) for n in needles.not_patients}
        self._names: list[tuple[int, re.Pattern[str]]] = []  # whole words: Петров, not Петрова
        self._comments: list[tuple[int, str]] = []
        self.dropped_names = 0  # a doctor has the same surname and first name
        for i, n in enumerate(needles.names):
            full = _norm(n)
            words = full.split(" ")
            forms = {full}
            if len(words) >= 2:
                forms |= {f"{words[0]} {words[1]}", f"{words[1]} {words[0]}"}
            rx = re.compile("|".join(rf"(?<!\w){re.escape(f)}(?!\w)" for f in forms))
            if any(rx.search(staff) for staff in staff_names):
                self.dropped_names += 1
                continue
            self._names.append((i, rx))
        for i, c in enumerate(needles.comments):
            c = _norm(c)
            if len(c) >= COMMENT_MIN:  # "ok", "да" would match ordinary words
                self._comments.append((i, c[:COMMENT_PROBE]))
        staff = set().union(*(_words(n) for n in needles.not_patients)) \
            if needles.not_patients else set()
        self._surnames: list[tuple[int, re.Pattern[str]]] = []
        self.dropped_surnames = 0  # too short, or a doctor's: not looked for
        for i, s in enumerate(needles.surnames):
            s = _norm(s)
            if len(s) < SURNAME_MIN or s in staff or not re.fullmatch(r"[^\W\d_][\w-]*", s):
                self.dropped_surnames += 1
                continue
            self._surnames.append((i, re.compile(rf"(?<!\w){re.escape(s)}(?!\w)")))

    def find(self, text: str) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = [("token", i) for i, t in self._tokens if t in text]
        text = _decode(text)
        if self._phones:
            runs = [re.sub(r"\D", "", m.group()) for m in _RUN.finditer(text)]
            runs = [r for r in runs if len(r) >= PHONE_MIN_DIGITS]
            out.extend(("phone", i) for i, digits in self._phones
                       if any(digits in r for r in runs))
        if self._names or self._comments or self._surnames:
            flat = _norm(text)
            out.extend(("name", i) for i, rx in self._names if rx.search(flat))
            out.extend(("comment", i) for i, c in self._comments if c in flat)
            out.extend(("surname", i) for i, rx in self._surnames if rx.search(flat))
        return out


# -- where hits are allowed: docs/privacy.md's inventory ------------------------------------

@dataclass(frozen=True)
class TablePolicy:
    personal: frozenset[str]  # columns marked personal **yes**
    clocks: tuple[str, ...]  # the columns retention counts from (the latest of them)


def parse_inventory(markdown: str) -> dict[str, TablePolicy]:
    """Per state table of docs/privacy.md: its personal columns and its retention clocks."""
    out: dict[str, TablePolicy] = {}
    for section in re.split(r"^### ", markdown, flags=re.M)[1:]:
        m = re.match(r"`(\w+)`", section)
        if not m:
            continue
        columns = re.findall(r"^\|\s*`(\w+)`\s*\|.*\|\s*([^|]*?)\s*\|\s*$", section, flags=re.M)
        kept = re.search(r"^Kept:(.*?)(?:\n\s*\n|\n\|)", section, flags=re.M | re.S)
        clocks = re.findall(r"after\s+`(\w+)`", kept.group(1)) if kept else []
        names = {c for c, _ in columns}
        out[m.group(1)] = TablePolicy(
            frozenset(c for c, p in columns if re.search(r"\byes\b", p, flags=re.I)),
            tuple(dict.fromkeys(c for c in clocks if c in names)))
    return out


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Allowance:
    """Which (table, column, row) may hold personal data now."""
    inventory: Mapping[str, TablePolicy] = field(default_factory=dict)
    retention_days: int | None = None
    tables: frozenset[str] = frozenset()  # allowed whole, no retention check (``--allow``)
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def allows(self, hit: Hit, row: Mapping[str, str | None] | None = None) -> bool:
        if hit.kind == "token" or hit.table is None:
            return False
        if hit.table in self.tables:
            return True
        policy = self.inventory.get(hit.table)
        if policy is None or hit.column not in policy.personal or not policy.clocks:
            return False
        if self.retention_days is None or row is None:
            return False
        stamps = [t for t in (_when(row.get(c)) for c in policy.clocks) if t is not None]
        return bool(stamps) and max(stamps) > self.now - timedelta(days=self.retention_days)


# -- the report ------------------------------------------------------------------------------

@dataclass
class Report:
    scanned: Counter = field(default_factory=Counter)  # what -> how many
    hits: list[Hit] = field(default_factory=list)
    allowed: list[Hit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self, limit: int = 60) -> list[str]:
        out = ["leakscan: scanned " + (", ".join(f"{n} {k}" for k, n in
                                                sorted(self.scanned.items())) or "nothing")]
        out += [f"  ERROR {e}" for e in self.errors]
        out += [f"  HIT {h.kind} #{h.number} in {h.where}" for h in self.hits[:limit]]
        if len(self.hits) > limit:
            out.append(f"  ... {len(self.hits) - limit} more hits")
        by_place = Counter((self.place(h), h.kind) for h in self.hits)
        out += [f"  hits: {n} {kind} in {place}" for (place, kind), n in
                sorted(by_place.items())]
        by_table = Counter((f"{h.table}.{h.column}" if h.column else h.table, h.kind)
                           for h in self.allowed)
        out += [f"  allowed: {n} {kind} hit(s) in {table}" for (table, kind), n in
                sorted(by_table.items())]
        out.append(f"leakscan: {len(self.hits)} hits"
                   + (f" ({len(self.allowed)} in allowed tables)" if self.allowed else ""))
        return out

    @staticmethod
    def place(h: Hit) -> str:
        """Where, without line or row: a table.column, or a log file's task."""
        if h.table:
            return h.where.split(" row ", 1)[0]
        m = re.search(r"task_id=([^/]+)", h.where)
        if m:
            return f"task log of {m.group(1)}"
        path = re.sub(r":\d+$", "", h.where)
        return "/".join(path.split("/")[-2:]) if "/" in path else path

    def summary(self) -> dict[str, int]:
        return dict(Counter(f"{self.place(h)} ({h.kind})" for h in self.hits))

    def as_dict(self) -> dict:
        return {"scanned": dict(self.scanned), "errors": self.errors,
                "hits": [h.__dict__ for h in self.hits],
                "allowed": [h.__dict__ for h in self.allowed]}


# -- sources: each yields (what, bytes, hits, row) per unit scanned ----------------------------

Unit = tuple[str, int, list[Hit], "Mapping[str, str | None] | None"]


def scan_logs(root: Path, m: Matcher) -> Iterator[Unit]:
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        hits: list[Hit] = []
        size = 0
        with path.open(encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                size += len(line)
                hits.extend(Hit(k, i, f"{path}:{no}") for k, i in m.find(line))
        yield "log files", size, hits, None


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def scan_db(url: str, m: Matcher, tables: Sequence[str] = ()) -> Iterator[Unit]:
    """Every row of ``tables`` (default: every table), hits named by table and the row's
    task (``task_id``, ``map_index``) where it has one."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table in tables or sa.inspect(conn).get_table_names():
                what = {"xcom": "xcom rows",
                        "rendered_task_instance_fields": "rendered-field rows"}.get(
                    table, f"{table} rows")
                quoted = conn.dialect.identifier_preparer.quote(table)
                for row in conn.execute(sa.text(f"SELECT * FROM {quoted}")).mappings():
                    text = " | ".join(_cell(v) for v in row.values())
                    task = "/".join(f"{k}={row[k]}" for k in ("task_id", "map_index", "key")
                                    if k in row)
                    yield what, len(text), [
                        Hit(k, i, f"{_safe_url(url)}:{table} row {task}".rstrip(), table)
                        for k, i in m.find(text)], None
    finally:
        engine.dispose()


def scan_text(name: str, text: str, m: Matcher, what: str = "pages") -> Iterator[Unit]:
    yield what, len(text), [Hit(k, i, name) for k, i in m.find(text)], None


def mail_text(raw: bytes) -> str:
    """A mail as its reader sees it: subject and every text part, transfer-decoded."""
    msg = email.message_from_bytes(raw, policy=email_policy)
    parts = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, ValueError):
                parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return "\n".join(parts)


def scan_mails(root: Path, m: Matcher) -> Iterator[Unit]:
    for path in sorted(Path(root).rglob("*.eml")):
        yield from scan_text(str(path), mail_text(path.read_bytes()), m, what="mails")


def _copy_field(value: str) -> str | None:
    """One field of COPY's text format, unescaped."""
    if value == "\\N":
        return None

    def one(mm: re.Match[str]) -> str:
        if mm.group(1):
            return chr(int(mm.group(1), 8))
        if mm.group(2):
            return chr(int(mm.group(2), 16))
        return {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}.get(
            mm.group(3), mm.group(3))
    return _COPY_ESC.sub(one, value) if "\\" in value else value


def parse_pg_dump(lines: Iterable[str], m: Matcher, db: str) -> Iterator[Unit]:
    """(what, bytes, hits, row) per COPY row of ``pg_dump``'s plain output."""
    table: str | None = None
    cols: list[str] = []
    n = 0
    for line in lines:
        if table is None:
            if (c := _COPY.match(line.rstrip("\n"))):
                table = c.group(1).replace('"', "").rsplit(".", 1)[-1]
                cols = [x.strip().strip('"') for x in c.group(2).split(",")]
                n = 0
            continue
        if line.startswith("\\."):
            table = None
            continue
        n += 1
        values = [_copy_field(v) for v in line.rstrip("\n").split("\t")]
        row = dict(zip(cols, values))
        hits = [Hit(k, i, f"pg_dump {db}:{table}.{col} row {n}", table, col)
                for col, v in row.items() if v for k, i in m.find(v)]
        yield "pg_dump rows", len(line), hits, row


def scan_pg_dump(dsn: str, m: Matcher, schema: str | None = None) -> Iterator[Unit]:
    cmd = ["pg_dump", "--data-only", "--no-owner", "--no-privileges", "-d", dsn]
    if schema:
        cmd += ["--schema", schema]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace")
    assert proc.stdout is not None and proc.stderr is not None
    db = _safe_url(dsn) + (f" schema {schema}" if schema else "")
    yield from parse_pg_dump(proc.stdout, m, db)
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError(f"pg_dump failed: {err.strip()[:300]}")


def _safe_url(url: str) -> str:
    """A DSN without its password and options (it names where, not how to get in)."""
    url = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)  # key=value conninfo
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url.split("?", 1)[0])


def run(needles: Needles, *, logs: Sequence[Path] = (), dbs: Sequence[str] = (),
        db_tables: Sequence[str] = (), pages: Mapping[str, str] | None = None,
        mails: Sequence[Path] = (), mail_texts: Mapping[str, str] | None = None,
        pg_dumps: Sequence[str] = (), pg_schema: str | None = None,
        pg_sources: Sequence[tuple[str, str | None]] = (), allow: Iterable[str] = (),
        inventory: Mapping[str, TablePolicy] | None = None,
        retention_days: int | None = None) -> Report:
    """Scan every source; ``pg_sources`` are (dsn, schema) pairs besides ``pg_dumps``."""
    m, report = Matcher(needles), Report()
    rule = Allowance(inventory or {}, retention_days, frozenset(allow))
    report.scanned["needles"] = len(needles)
    if m.dropped_surnames:
        report.scanned["surnames not looked for (short or staff's)"] = m.dropped_surnames
    if m.dropped_names:
        report.scanned["names not looked for (staff's)"] = m.dropped_names
    sources: list[tuple[str, Callable[[], Iterator[Unit]]]] = (
        [(f"logs {p}", lambda p=p: scan_logs(p, m)) for p in logs]
        + [(f"db {_safe_url(u)}", lambda u=u: scan_db(u, m, db_tables)) for u in dbs]
        + [(f"page {k}", lambda k=k, v=v: scan_text(k, v, m))
           for k, v in (pages or {}).items()]
        + [(f"mails {p}", lambda p=p: scan_mails(p, m)) for p in mails]
        + [(f"mail {k}", lambda k=k, v=v: scan_text(k, v, m, what="mails"))
           for k, v in (mail_texts or {}).items()]
        + [(f"pg_dump {_safe_url(d)}", lambda d=d, s=s: scan_pg_dump(d, m, s))
           for d, s in [(d, pg_schema) for d in pg_dumps] + list(pg_sources)])
    for name, source in sources:
        try:
            for what, size, hits, row in source():
                report.scanned[what] += 1
                report.scanned["bytes"] += size
                for h in hits:
                    (report.allowed if rule.allows(h, row) else report.hits).append(h)
        except Exception as exc:  # noqa: BLE001 - an unreadable source fails the scan
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.leakscan",
                                 description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--needles", type=Path, help="JSON with phones, names, comments, tokens")
    for opt in ("phone", "name", "surname", "comment", "token", "not-a-patient"):
        ap.add_argument(f"--{opt}", action="append", default=[])
    ap.add_argument("--logs", type=Path, action="append", default=[])
    ap.add_argument("--db", action="append", default=[], help="SQLAlchemy URL")
    ap.add_argument("--db-table", action="append", default=[], help="only these tables")
    ap.add_argument("--page", type=Path, action="append", default=[], help="a saved page")
    ap.add_argument("--mails", type=Path, action="append", default=[], help="dir of .eml")
    ap.add_argument("--pg-dump", action="append", default=[], help="libpq DSN")
    ap.add_argument("--pg-schema", help="dump only this schema")
    ap.add_argument("--inventory", type=Path, help="docs/privacy.md: where hits are allowed")
    ap.add_argument("--retention-days", type=int, help="retention_days of the configuration")
    ap.add_argument("--allow", action="append", default=[],
                    help="a table whose hits are allowed whatever their age")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    data: dict = {}
    try:
        if args.needles:
            data = json.loads(args.needles.read_text(encoding="utf-8"))
        pages = {str(p): p.read_text(encoding="utf-8", errors="replace") for p in args.page}
        inventory = (parse_inventory(args.inventory.read_text(encoding="utf-8"))
                     if args.inventory else None)
    except (OSError, ValueError) as exc:
        print(f"leakscan: cannot read input: {exc}", file=sys.stderr)
        return 2
    needles = Needles.of(data.get("phones", []) + args.phone, data.get("names", []) + args.name,
                         data.get("comments", []) + args.comment,
                         data.get("tokens", []) + args.token,
                         data.get("surnames", []) + args.surname,
                         data.get("not_patients", []) + args.not_a_patient)
    if not len(needles):
        print("leakscan: no needles given", file=sys.stderr)
        return 2
    if not (args.logs or args.db or args.pg_dump or pages or args.mails):
        print("leakscan: nothing to scan (--logs, --db, --page, --mails or --pg-dump)",
              file=sys.stderr)
        return 2
    if inventory is not None and args.retention_days is None:
        print("leakscan: --inventory needs --retention-days", file=sys.stderr)
        return 2
    report = run(needles, logs=args.logs, dbs=args.db, db_tables=args.db_table, pages=pages,
                 mails=args.mails, pg_dumps=args.pg_dump, pg_schema=args.pg_schema,
                 allow=args.allow, inventory=inventory, retention_days=args.retention_days)
    print(json.dumps(report.as_dict(), indent=1) if args.json else "\n".join(report.lines()))
    if report.errors:
        return 2
    return 1 if report.hits else 0


if __name__ == "__main__":
    sys.exit(main())
