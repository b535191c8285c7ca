"""The wheel is the product: built with `python -m build`, installed with Airflow's
constraints into a fresh virtualenv that holds nothing of this repository, and used with a
DAGs folder holding only the DAG file and the configuration.

Offline after the first run: the dependencies come from a wheelhouse
(``$IDENTSYNC_WHEELHOUSE``, default ``var/wheelhouse``) that the first run fills with
``pip download`` of exactly the pinned versions; later installs use ``--no-index``.

Run at the lowest and the highest Airflow pyproject.toml allows (``$IDENTSYNC_INSTALL_AIRFLOW``,
comma-separated, picks others). constraints.txt pins the highest; another version is installed
with the same pins except Airflow's own packages (``apache-airflow`` pins its core and task SDK
exactly) and those its core refuses (:data:`UNPINNED`), each in its own wheelhouse.
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
AIRFLOW_PACKAGES = ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk")
#: Pins of constraints.txt an older Airflow refuses, left to its own range: apache-airflow-core
#: 3.3.0 requires aiosqlite<0.22 (pip then takes 0.21.0).
UNPINNED = {"3.3.0": ("aiosqlite",)}


def pinned_airflow() -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith("apache-airflow=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError("constraints.txt pins no apache-airflow")


AIRFLOW_VERSIONS = [v.strip() for v in os.environ.get(
    "IDENTSYNC_INSTALL_AIRFLOW", f"3.3.0,{pinned_airflow()}").split(",") if v.strip()]

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


def constraints_for(airflow_version: str, out: Path) -> Path:
    """constraints.txt for ``airflow_version``: the file itself for the version it pins, else
    its pins without Airflow's own packages and without :data:`UNPINNED`'s."""
    if airflow_version == pinned_airflow():
        return ROOT / "constraints.txt"
    drop = {*AIRFLOW_PACKAGES, *UNPINNED.get(airflow_version, ())}
    lines = [line for line in (ROOT / "constraints.txt").read_text().splitlines()
             if line.split("==", 1)[0].strip().lower() not in drop]
    out.write_text("\n".join([*lines, f"apache-airflow=={airflow_version}", ""]))
    return out


def wheelhouse_for(airflow_version: str) -> Path:
    if airflow_version == pinned_airflow():
        return WHEELHOUSE
    return WHEELHOUSE / f"airflow-{airflow_version}"  # pip's --find-links reads no subfolder


def ensure_wheelhouse(wheelhouse: Path, constraints: Path) -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    marker = wheelhouse / ".complete"
    key = json.dumps({"deps": deps, "constraints": constraints.read_text()})
    if marker.exists() and marker.read_text() in (key, json.dumps(deps)):
        return
    wheelhouse.mkdir(parents=True, exist_ok=True)
    sh(sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", wheelhouse,
       "-c", constraints, *deps, timeout=1200)
    marker.write_text(key)


@pytest.fixture(scope="module", params=AIRFLOW_VERSIONS)
def installed(request, tmp_path_factory):
    airflow_version = request.param
    tmp = tmp_path_factory.mktemp(f"install-{airflow_version}")
    wheel = build_wheel(tmp)
    constraints = constraints_for(airflow_version, tmp / "constraints.txt")
    wheelhouse = wheelhouse_for(airflow_version)
    ensure_wheelhouse(wheelhouse, constraints)
    venv = tmp / "venv"
    # No --system-site-packages, no pip inside: the shared venv's pip installs into it.
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    sh(sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--find-links",
       wheelhouse, "-c", constraints, wheel, timeout=900)
    return {"tmp": tmp, "venv": venv, "py": py, "airflow_version": airflow_version}


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


def test_the_requested_airflow_is_what_runs(installed):
    out = sh(installed["venv"] / "bin" / "airflow", "version",
             env={"PATH": f"{installed['venv'] / 'bin'}:/usr/bin:/bin",
                  "HOME": str(installed["tmp"]),
                  "AIRFLOW_HOME": str(installed["tmp"] / "airflow-version")}).stdout
    assert out.strip().splitlines()[-1] == installed["airflow_version"], out


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
    # Each once, from the package: the health page and the warm start of task processes.
    assert sorted(p["name"] for p in plugins) == ["identsync_preload", "identsync_ui"]
    assert all(p["source"].startswith("identsync==") for p in plugins), plugins
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
