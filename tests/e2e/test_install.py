"""The wheel is the product: built with `python -m build`, installed with Airflow's
constraints into a fresh virtualenv that holds nothing of this repository, and used with a
DAGs folder holding only the DAG file and the configuration.

Offline after the first run: the dependencies come from a wheelhouse
(``$IDENTSYNC_WHEELHOUSE``, default ``var/wheelhouse``) that the first run fills with
``pip download`` of exactly the pinned versions; later installs use ``--no-index``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.fixtures.emulator import TEST_TOKEN
from tools import pgserver

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("IDENTSYNC_WHEELHOUSE", ROOT / "var" / "wheelhouse"))

pytestmark = pytest.mark.airflow


def sh(*cmd: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
       timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def build_wheel(out: Path) -> Path:
    """`python -m build` on a copy of what the distribution is made of (the checkout stays
    clean of build/ and egg-info)."""
    src = out / "src_copy"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__",
                                                                            "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    sh(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out / "dist",
       src)
    [wheel] = (out / "dist").glob("identsync-*.whl")
    return wheel


def ensure_wheelhouse() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    marker = WHEELHOUSE / ".complete"
    if marker.exists() and marker.read_text() == json.dumps(deps):
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    sh(sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", WHEELHOUSE,
       "-c", ROOT / "constraints.txt", *deps, timeout=1200)
    marker.write_text(json.dumps(deps))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    wheel = build_wheel(tmp)
    ensure_wheelhouse()
    venv = tmp / "venv"
    # No --system-site-packages, no pip inside: the shared venv's pip installs into it.
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    sh(sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--find-links",
       WHEELHOUSE, "-c", ROOT / "constraints.txt", wheel, timeout=900)
    return {"tmp": tmp, "venv": venv, "py": py}


@pytest.fixture(scope="module")
def deployment(installed, tmp_path_factory, emulator_session):
    """An AIRFLOW_HOME whose DAGs folder holds only the DAG file and the configuration."""
    emulator_session.reset("all,config")
    tmp = installed["tmp"]
    home = tmp / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "ident_to_bitrix24.py", dags)
    shutil.copy(ROOT / "dags" / "identsync.json", dags)
    import sqlalchemy as sa

    from tools.ident_demo.clinic import create_schema

    ident = tmp / "ident.sqlite3"
    create_schema(sa.create_engine(f"sqlite:///{ident}"))
    with pgserver.scratch_schema("test", "install") as dsn:
        env = {"PATH": f"{installed['venv'] / 'bin'}:/usr/bin:/bin", "HOME": str(tmp),
               "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW_CONN_BITRIX24_DEFAULT": json.dumps({
                   "conn_type": "bitrix24",
                   "password": f"{emulator_session.base_url}/rest/1/{TEST_TOKEN}/"}),
               "AIRFLOW_CONN_IDENT_DB": json.dumps({"conn_type": "sqlite", "host": str(ident)}),
               "AIRFLOW_CONN_IDENTSYNC_STATE": json.dumps(pgserver.airflow_connection(dsn))}
        sh(installed["venv"] / "bin" / "airflow", "db", "migrate", env=env, timeout=600)
        yield {**installed, "env": env, "dags": dags, "ident": ident}


def bin_(d, name: str) -> Path:
    return d["venv"] / "bin" / name


def test_nothing_of_the_repository_in_the_venv(installed):
    out = sh(installed["py"], "-c", "import identsync, sys; print(identsync.__file__); "
             "print('\\n'.join(sys.path))").stdout
    assert str(ROOT) not in out, out
    assert str(installed["venv"]) in out.splitlines()[0]


def test_dag_parses_plugin_and_connection_type_registered(deployment):
    env = deployment["env"]
    errors = sh(bin_(deployment, "airflow"), "dags", "list-import-errors", "--local", "-o",
                "json", env=env).stdout
    assert "identsync" not in errors and "Traceback" not in errors, errors
    dags = sh(bin_(deployment, "airflow"), "dags", "list", "--local", "-o", "json",
              env=env).stdout
    assert "ident_to_bitrix24_branch_1" in dags, dags
    plugins = json.loads(sh(bin_(deployment, "airflow"), "plugins", "-o", "json",
                            env=env).stdout)
    assert [p["name"] for p in plugins] == ["identsync_ui"]  # once, from the package
    assert plugins[0]["source"].startswith("identsync==")
    providers = sh(bin_(deployment, "airflow"), "providers", "hooks", "-o", "json",
                   env=env).stdout
    assert "bitrix24" in providers and "identsync.hooks.bitrix24.Bitrix24Hook" in providers


def test_identsync_check_green_against_the_emulator(deployment):
    env = deployment["env"]
    cfg = str(deployment["dags"] / "identsync.json")
    sh(bin_(deployment, "identsync"), "setup-portal", env=env)
    proc = subprocess.run([str(bin_(deployment, "identsync")), "check"], env=env, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready" in proc.stdout.splitlines()
    assert f"{cfg}:" in proc.stdout  # found in the DAGs folder, no IDENTSYNC_CONFIG
    assert TEST_TOKEN not in proc.stdout + proc.stderr


def test_dags_test_syncs_a_demo_clinic(deployment, emulator_session):
    """The installed DAG, run by the installed Airflow, writes the clinic's deals."""
    import sqlalchemy as sa

    from tests.fixtures.emulator import rest
    from tools.ident_demo.clinic import generate_clinic

    engine = sa.create_engine(f"sqlite:///{deployment['ident']}")
    generate_clinic(engine, seed=6, receptions=30, patients=15, start=date(2026, 11, 20),
                    days=1, branches=((1, "A"),), now=datetime(2026, 11, 21, 12, 0))
    engine.dispose()
    sh(bin_(deployment, "identsync"), "setup-portal", env=deployment["env"])
    conf = json.dumps({"date_from": "2026-11-01", "date_to": "2026-12-31"})
    proc = sh(bin_(deployment, "airflow"), "dags", "test", "ident_to_bitrix24_branch_1", "-c",
              conf, env=deployment["env"], timeout=900)
    assert "DagRun Finished" in proc.stdout + proc.stderr
    deals = rest(emulator_session, "crm.deal.list", json={"select": ["ID"]}).json()
    assert deals["total"] > 0, proc.stdout[-3000:]


def test_without_a_configuration_it_names_where_it_looked(deployment, tmp_path):
    env = {**deployment["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path)}
    proc = subprocess.run([str(bin_(deployment, "identsync")), "check"], env=env, text=True,
                          capture_output=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert f"looked in {tmp_path / 'identsync.json'};" in out
    assert "lib/python" not in out and "site-packages" not in out
