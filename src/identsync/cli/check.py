"""`identsync check`: is everything in place for a run? One line per check, with what to fix.

Checks, each independent of the others' outcome where it can be:

* the configuration file (where it was found, or every place it was looked for);
* IDENT (``ident_conn_id``): reachable, every table and column the sync reads exists and a
  ``SELECT`` of them is allowed;
* the state database (``state_conn_id``): reachable and writable (a table created and
  dropped inside a transaction that is rolled back); a missing database is named with the
  ``CREATE DATABASE`` that makes it;
* the portal (``bitrix24_conn_id``): the webhook answers, with the CRM scope;
* the portal against the configuration (per branch): every stage and custom field code
  (:mod:`identsync.sync.preflight`).

Messages name connections and keys, never a password or a webhook token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from identsync.bitrix24.redact import scrub


@dataclass(frozen=True)
class Item:
    check: str
    ok: bool
    detail: str  # what was found (ok) or what to do (not ok)


def _error_text(exc: BaseException) -> str:
    return scrub(" ".join(str(exc).split())) or type(exc).__name__


# -- configuration -----------------------------------------------------------------------------

def check_config() -> tuple[Item, Any]:
    from identsync.settings import config_path, load_config

    try:
        path = config_path()
        cfg = load_config()
    except Exception as exc:  # ConfigError, OSError: the message names the file and key
        return Item("configuration", False, _error_text(exc)), None
    return Item("configuration", True,
                f"{path}: {len(cfg.branches)} branch(es), pipeline {cfg.category_id}"), cfg


# -- IDENT -------------------------------------------------------------------------------------

def ident_items(engine: Any, conn_id: str) -> list[Item]:
    """Tables and columns of ``identsync.ident.schema`` against the database behind engine."""
    import sqlalchemy as sa

    from identsync.ident.schema import metadata

    name = f"IDENT ({conn_id})"
    try:
        insp = sa.inspect(engine)
        tables = {t.lower(): t for t in insp.get_table_names()}
    except Exception as exc:
        return [Item(name, False, f"cannot connect: {_error_text(exc)} -> check host, port, "
                                  f"login and password of Airflow connection {conn_id!r}")]
    problems: list[str] = []
    for table in metadata.sorted_tables:
        actual = tables.get(table.name.lower())
        if actual is None:
            problems.append(f"table {table.name} is missing")
            continue
        have = {c["name"].lower() for c in insp.get_columns(actual)}
        missing = [c.name for c in table.columns if c.name.lower() not in have]
        if missing:
            problems.append(f"{table.name} lacks column(s) {', '.join(missing)}")
            continue
        try:
            with engine.connect() as conn:
                conn.execute(sa.select(*table.columns).where(sa.false())).fetchall()
        except Exception as exc:
            problems.append(f"{table.name} is not readable: {_error_text(exc)}")
    if problems:
        return [Item(name, False, "; ".join(problems) + " -> the login of connection "
                     f"{conn_id!r} must read IDENT's database (is it the IDENT database, and "
                     "an IDENT version with these columns?)")]
    return [Item(name, True, f"{len(metadata.sorted_tables)} tables and their columns readable")]


def check_ident(cfg: Any) -> list[Item]:
    from identsync.dag.connections import ident_engine

    try:
        engine = ident_engine(cfg.ident_conn_id)
    except Exception as exc:
        return [Item(f"IDENT ({cfg.ident_conn_id})", False,
                     f"{_error_text(exc)} -> create or correct Airflow connection "
                     f"{cfg.ident_conn_id!r} (conn_type mssql)")]
    try:
        return ident_items(engine, cfg.ident_conn_id)
    finally:
        engine.dispose()


# -- state database ----------------------------------------------------------------------------

_NO_DB = re.compile(r'database "([^"]+)" does not exist')


def state_items(dsn: str, conn_id: str) -> list[Item]:
    import psycopg2

    name = f"state database ({conn_id})"
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10, application_name="identsync-check")
    except psycopg2.OperationalError as exc:
        text = _error_text(exc)
        missing = _NO_DB.search(text)
        if missing:
            db = missing.group(1)
            return [Item(name, False, f'database "{db}" does not exist -> create it once on '
                         f'that server: CREATE DATABASE "{db}"; (e.g. psql -h <host> -U '
                         f'<admin> -c \'CREATE DATABASE "{db}"\'), then run check again')]
        return [Item(name, False, f"cannot connect: {text} -> check Airflow connection "
                                  f"{conn_id!r} (host, port, login, password, schema)")]
    try:
        with conn.cursor() as cur:
            # Writable: what the sync does first (create its tables), undone at once.
            cur.execute("CREATE TABLE identsync_check_probe (id int)")
            cur.execute("INSERT INTO identsync_check_probe VALUES (1)")
            cur.execute("SELECT current_database()")
            db = cur.fetchone()[0]
        conn.rollback()
    except psycopg2.Error as exc:
        conn.rollback()
        return [Item(name, False, f"not writable: {_error_text(exc)} -> the login of "
                     f"connection {conn_id!r} needs CREATE on the database and its schema")]
    finally:
        conn.close()
    return [Item(name, True, f'database "{db}" reachable and writable')]


def check_state(cfg: Any, dsn: str | None = None) -> list[Item]:
    conn_id = cfg.state_conn_id
    if dsn is None:
        from identsync.dag.connections import state_dsn

        try:
            dsn = state_dsn(conn_id)
        except Exception as exc:
            return [Item(f"state database ({conn_id})", False,
                         f"{_error_text(exc)} -> create Airflow connection {conn_id!r} "
                         "(conn_type postgres) for the sync's state database")]
    return state_items(dsn, conn_id)


# -- portal ------------------------------------------------------------------------------------

def portal_items(client: Any, cfg: Any, conn_id: str) -> list[Item]:
    """The webhook answers with the CRM scope; then the configuration of every branch."""
    from identsync.errors import Bitrix24AuthError, Bitrix24Error
    from identsync.sync import preflight

    name = f"portal ({conn_id})"
    try:
        client.call("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})
    except Bitrix24AuthError as exc:
        return [Item(name, False, f"{_error_text(exc)} -> {exc.fix}")]
    except Bitrix24Error as exc:
        return [Item(name, False, f"{_error_text(exc)} -> is the webhook URL in connection "
                                  f"{conn_id!r} right, and does it have the crm scope?")]
    except Exception as exc:
        return [Item(name, False, f"cannot reach the portal: {_error_text(exc)} -> check the "
                                  f"webhook URL in connection {conn_id!r}")]
    items = [Item(name, True, f"{getattr(client, 'portal', 'portal')} answers with the crm "
                              "scope")]
    seen: dict[tuple, list[str]] = {}
    for branch in cfg.branches:
        bcfg = cfg.for_branch(branch.id)
        where = "" if bcfg is cfg else f"branches[id={branch.id}]: "
        key = (bcfg.category_id, tuple(sorted(bcfg.stage_map.items())), bcfg.final_stages,
               bcfg.protected_stages, bcfg.deleted_stage)
        if key in seen:
            continue
        try:
            found = preflight.problems(client, bcfg, where=where)
        except Bitrix24Error as exc:
            items.append(Item("stages and fields", False,
                              f"cannot read them: {_error_text(exc)} -> the webhook needs the "
                              "crm scope and a user that may read CRM settings"))
            return items
        seen[key] = [str(m) for m in found]
        label = "stages and fields" + (f" (branch {branch.id})" if where else "")
        if found:
            items.extend(Item(label, False, str(m)) for m in found)
        else:
            items.append(Item(label, True, f"every stage of pipeline {bcfg.category_id} and "
                                           "every field code exists on the portal"))
    return items


def check_portal(cfg: Any, webhook: str | None = None) -> list[Item]:
    conn_id = cfg.bitrix24_conn_id
    try:
        if webhook:
            from identsync.bitrix24.client import Bitrix24Client

            client = Bitrix24Client(webhook, plan=cfg.portal_plan)
            conn_id = "--webhook"
        else:
            from identsync.hooks.bitrix24 import Bitrix24Hook

            client = Bitrix24Hook(bitrix24_conn_id=conn_id,
                                  default_plan=cfg.portal_plan).get_conn()
    except Exception as exc:
        return [Item(f"portal ({conn_id})", False,
                     f"{_error_text(exc)} -> create or correct Airflow connection {conn_id!r} "
                     "(type Bitrix24, the webhook URL in its secret field)")]
    return portal_items(client, cfg, conn_id)


# -- all ---------------------------------------------------------------------------------------

def run_checks(*, state_dsn: str | None = None, webhook: str | None = None,
               skip: Iterable[str] = ()) -> list[Item]:
    item, cfg = check_config()
    items = [item]
    if cfg is None:
        return items
    steps: dict[str, Callable[[], list[Item]]] = {
        "ident": lambda: check_ident(cfg),
        "state": lambda: check_state(cfg, state_dsn),
        "portal": lambda: check_portal(cfg, webhook),
    }
    for key, step in steps.items():
        if key not in set(skip):
            items.extend(step())
    return items


def render(items: list[Item]) -> str:
    width = max(len(i.check) for i in items)
    lines = [f"{'':4}  {'check':<{width}}  detail / what to do"]
    for i in items:
        lines.append(f"{'ok' if i.ok else 'FAIL':<4}  {i.check:<{width}}  {i.detail}")
    bad = sum(1 for i in items if not i.ok)
    lines.append(f"{'ready' if not bad else f'not ready: {bad} problem(s)'}")
    return "\n".join(lines)
