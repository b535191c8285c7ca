"""docker-compose.yaml, Dockerfile and airflow-init checked against what the sync needs.

No Docker here: the YAML is parsed with PyYAML (which resolves the anchors and `<<` merges
as Compose does) and `${VAR:-default}` is interpolated with the defaults, i.e. the values a
user without a .env gets.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from identsync.config import POOL_SLOTS, SyncConfig
from tools.airflow_stack import (
    HEARTBEAT_DETECTION_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_FAILED_HEARTBEATS,
    MIN_HEARTBEAT_INTERVAL_S,
    VISIBILITY_TIMEOUT_S,
    deployment_settings,
    pool_slots,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
INIT_SCRIPT = ROOT / "tools" / "compose_init.sh"

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-worker", "airflow-triggerer")
REQUIRED = ("postgres", "redis", "airflow-secrets", "airflow-init", "bitrix24-emulator",
            "ident-demo", *AIRFLOW_SERVICES)
SECRETS = "/opt/airflow/secrets"


# -- Compose interpolation (the subset the file uses) ------------------------------------------

def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `${` whose body starts at ``start`` (nesting allowed)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """`$$` -> `$`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` with nested defaults."""
    env = env or {}
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            body = text[i + 2:end]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?", body, re.S)
            assert m, f"unsupported interpolation ${{{body}}}"
            name, op, default = m.groups()
            value = env.get(name)
            if op == ":-" and not value or op == "-" and value is None:
                value = interpolate(default, env)
            out.append(value or "")
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def defaults_in(text: str) -> dict[str, str]:
    """Every `${VAR:-default}` in ``text``: variable -> its (uninterpolated) default."""
    found: dict[str, str] = {}
    for m in re.finditer(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?-", text):
        end = _closing_brace(text, m.start() + 2)
        found[m.group(1)] = text[m.end():end]
    return found


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def common(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["x-airflow-common"]


@pytest.fixture(scope="module")
def env(common: dict[str, Any]) -> dict[str, str]:
    """The common Airflow environment as a user without .env gets it."""
    return {k: interpolate(str(v)) for k, v in common["environment"].items()}


@pytest.fixture(scope="module")
def cfg() -> SyncConfig:
    return SyncConfig.from_file(ROOT / "dags" / "identsync.json")


def conn(env: dict[str, str], conn_id: str) -> dict[str, Any]:
    key = f"AIRFLOW_CONN_{conn_id.upper()}"
    assert key in env, f"{key} missing from x-airflow-common environment"
    return json.loads(env[key])


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of a service's short-syntax volumes."""
    result = {}
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        result[parts[1]] = parts[0]
    return result


def command_args(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return [interpolate(str(a)) for a in (cmd if isinstance(cmd, list) else cmd.split())]


def flag(args: list[str], name: str) -> str:
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


# -- services and the shared anchor ------------------------------------------------------------

def test_required_services_exist(services: dict[str, Any]) -> None:
    missing = [s for s in REQUIRED if s not in services]
    assert not missing


def test_postgres_is_16_and_backends_have_healthchecks(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_services_use_common_image_and_env(
    name: str, services: dict[str, Any], common: dict[str, Any]
) -> None:
    svc = services[name]
    assert svc["image"] == common["image"]
    assert svc["build"] == common["build"]
    env = svc["environment"]
    differing = {k for k, v in common["environment"].items() if env.get(k) != v}
    assert not differing, f"{name} overrides or lacks common env {sorted(differing)}"


def test_image_is_built_from_our_dockerfile(common: dict[str, Any],
                                            services: dict[str, Any]) -> None:
    assert common["build"] in (".", {"context": "."})
    # The demo services run the same image (they need its Python packages, not Airflow's env).
    for name in ("bitrix24-emulator", "ident-demo"):
        assert services[name]["image"] == common["image"]


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_wait_for_init_and_healthy_backends(
    name: str, services: dict[str, Any]
) -> None:
    deps = services[name]["depends_on"]
    assert deps["airflow-init"]["condition"] == "service_completed_successfully"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"


def test_jwt_secret_and_execution_api_url_shared(
    env: dict[str, str], services: dict[str, Any]
) -> None:
    # One secret for every process (an empty one would differ per process), read from the
    # volume airflow-secrets fills; never a value in this file.
    assert "AIRFLOW__API_AUTH__JWT_SECRET" not in env
    assert env["AIRFLOW__API_AUTH__JWT_SECRET_CMD"] == f"cat {SECRETS}/jwt_secret"
    assert env["AIRFLOW__CORE__FERNET_KEY_CMD"] == f"cat {SECRETS}/fernet_key"
    assert "AIRFLOW__CORE__FERNET_KEY" not in env
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        assert mounts(services[name])[SECRETS] == "airflow-secrets", name
        assert services[name]["depends_on"]["airflow-secrets"]["condition"] == \
            "service_completed_successfully", name
    url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.hostname in services
    assert url.path == "/execution/"
    published = [str(p).rsplit(":", 1)[-1] for p in services["airflow-apiserver"]["ports"]]
    assert str(url.port) in published
    assert services["airflow-apiserver"]["command"] == "api-server"


def test_celery_executor_with_redis_broker(env: dict[str, str],
                                           services: dict[str, Any]) -> None:
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis"
    assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    assert services["airflow-worker"]["command"] == "celery worker"


def test_no_examples_and_config_path(env: dict[str, str], common: dict[str, Any],
                                     tmp_path: Path) -> None:
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    # The connection Test button is off unless .env turns it on (it makes the API server
    # connect wherever a connection editor points it); turned on, it is what the UI test runs.
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Disabled"
    from tests.fixtures.ui import login_env

    enabled = interpolate(str(common["environment"]["AIRFLOW__CORE__TEST_CONNECTION"]),
                          {"IDENTSYNC_TEST_CONNECTION": "Enabled"})
    assert enabled == login_env(tmp_path, 8080)["AIRFLOW__CORE__TEST_CONNECTION"]
    assert env["IDENTSYNC_CONFIG"] == "/opt/airflow/dags/identsync.json"
    # The package is installed in the image, never found through a path edit.
    assert "PYTHONPATH" not in env


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_mounts(name: str, services: dict[str, Any]) -> None:
    m = mounts(services[name])
    for folder in ("dags", "plugins", "logs", "config"):
        assert m.get(f"/opt/airflow/{folder}") == f"./{folder}"


# -- the sync's connections, pool and demo services --------------------------------------------

def test_connections_match_config(env: dict[str, str], cfg: SyncConfig) -> None:
    assert conn(env, cfg.bitrix24_conn_id)["conn_type"] == "http"
    assert conn(env, cfg.ident_conn_id)["conn_type"] in ("sqlite", "mssql")
    assert conn(env, cfg.state_conn_id)["conn_type"] == "postgres"


def test_emulator_serves_what_the_bitrix24_connection_uses(
    env: dict[str, str], services: dict[str, Any], cfg: SyncConfig
) -> None:
    emu = services["bitrix24-emulator"]
    args = command_args(emu)
    assert args[args.index("-m") + 1] == "b24emu"
    assert flag(args, "--host") == "0.0.0.0"
    b24 = conn(env, cfg.bitrix24_conn_id)
    host = urlsplit(b24["host"])
    assert host.hostname == "bitrix24-emulator"
    assert str(host.port) == flag(args, "--port")
    assert b24["password"] == flag(args, "--token")
    assert b24["login"].isdigit()
    assert flag(args, "--plan") == cfg.portal_plan
    probe = " ".join(emu["healthcheck"]["test"])
    assert f"localhost:{host.port}/_emu/stats" in probe
    assert mounts(emu)["/opt/airflow/b24emu"] == "./b24emu"
    assert "/opt/airflow" in emu["environment"]["PYTHONPATH"].split(":")


def test_ident_demo_writes_the_database_the_connection_reads(
    env: dict[str, str], services: dict[str, Any], cfg: SyncConfig
) -> None:
    ident = conn(env, cfg.ident_conn_id)
    assert ident["conn_type"] == "sqlite"
    script = " ".join(command_args(services["ident-demo"]))
    assert "-m tools.ident_demo create" in script
    assert f"--url sqlite:///{ident['host']}" in script
    assert '[ -s "$db" ]' in script and f"db={ident['host']}" in script
    # The file lives on a volume both the generator and the workers mount.
    folder = str(Path(ident["host"]).parent)
    assert mounts(services["ident-demo"])[folder] == mounts(services["airflow-worker"])[folder]
    assert not mounts(services["airflow-worker"])[folder].startswith(".")


def test_state_database_is_created_by_init(env: dict[str, str], services: dict[str, Any],
                                           cfg: SyncConfig) -> None:
    state = conn(env, cfg.state_conn_id)
    assert state["host"] == "postgres"
    init_env = services["airflow-init"]["environment"]
    assert init_env["IDENTSYNC_STATE_DB"] == state["schema"]
    assert 'CREATE DATABASE "{name}"' in INIT_SCRIPT.read_text(encoding="utf-8")


def portal_plan(env: dict[str, str], cfg: SyncConfig) -> str:
    """The plan the deployment runs at: the Bitrix24 connection's, else the config's."""
    return conn(env, cfg.bitrix24_conn_id).get("extra", {}).get("plan") or cfg.portal_plan


def test_init_creates_the_configured_pool(services: dict[str, Any], env: dict[str, str],
                                          cfg: SyncConfig) -> None:
    init = services["airflow-init"]
    init_env = init["environment"]
    assert init_env["IDENTSYNC_POOL"] == cfg.pool
    assert int(init_env["IDENTSYNC_POOL_SLOTS"]) == POOL_SLOTS[portal_plan(env, cfg)]
    script = INIT_SCRIPT.read_text(encoding="utf-8")
    assert 'airflow pools set "${IDENTSYNC_POOL}" "${IDENTSYNC_POOL_SLOTS}"' in script
    target = command_args(init)[-1]
    assert mounts(init)[target] == "./tools/compose_init.sh"
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    # The entrypoint reads the generated password; none is written here.
    assert init_env["_AIRFLOW_WWW_USER_PASSWORD_CMD"] == f"cat {SECRETS}/admin_password"
    assert "_AIRFLOW_WWW_USER_PASSWORD" not in init_env


def test_airflow_settings_are_the_ones_the_celery_tests_run_with(
    env: dict[str, str], cfg: SyncConfig
) -> None:
    """Parallelism, heartbeat timeout, visibility timeout ... exactly as
    tools/airflow_stack/settings.py sets them for the stack tests/e2e/test_celery.py kills a
    worker of."""
    plan = portal_plan(env, cfg)
    assert plan == cfg.portal_plan, "the connection and the config must name one plan"
    wanted = deployment_settings(plan, "CeleryExecutor")
    assert {k: env.get(k) for k in wanted} == wanted
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) > pool_slots(plan)


def test_a_dead_worker_is_noticed_well_within_two_minutes() -> None:
    # The supervisor heartbeats every [workers] min_heartbeat_interval: at least three beats
    # must be missed before a live task is declared dead.
    assert 3 * MIN_HEARTBEAT_INTERVAL_S <= HEARTBEAT_TIMEOUT_S
    assert HEARTBEAT_TIMEOUT_S + HEARTBEAT_DETECTION_S <= 60


def test_a_task_outlives_an_api_server_outage_as_long_as_with_airflows_defaults() -> None:
    # Airflow's defaults: 3 failed heartbeats, 5 s apart. A faster heartbeat must not make a
    # task kill itself sooner when the API server is briefly unreachable.
    assert MAX_FAILED_HEARTBEATS * MIN_HEARTBEAT_INTERVAL_S >= 3 * 5
    assert MAX_FAILED_HEARTBEATS * MIN_HEARTBEAT_INTERVAL_S < HEARTBEAT_TIMEOUT_S


def test_visibility_timeout_outlasts_any_task(cfg: SyncConfig) -> None:
    # A task may wait out write_settle_seconds on each of its tries and then be throttled by
    # the portal; Redis must not hand its message to a second worker meanwhile.
    assert VISIBILITY_TIMEOUT_S >= 20 * cfg.write_settle_seconds
    assert VISIBILITY_TIMEOUT_S < 86400


def test_init_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not installed")
    proc = subprocess.run([bash, "-n", str(INIT_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_service_is_healthchecked_or_one_shot(services: dict[str, Any]) -> None:
    awaited = {dep for svc in services.values()
               for dep, spec in (svc.get("depends_on") or {}).items()
               if spec.get("condition") == "service_completed_successfully"}
    for name, svc in services.items():
        if "healthcheck" in svc:
            assert svc["healthcheck"]["test"], name
        else:
            assert name in awaited, f"{name}: no healthcheck and nobody waits for it to finish"
            assert svc.get("restart", "no") == "no", f"one-shot {name} must not restart"


# -- secrets -----------------------------------------------------------------------------------

WEBHOOK = re.compile(r"https?://[^\s\"'/]*\.bitrix24\.[a-z.]+/rest/", re.I)


@pytest.mark.parametrize("path", [COMPOSE, DOCKERFILE, INIT_SCRIPT, ROOT / ".dockerignore"],
                         ids=lambda p: p.name)
def test_no_real_webhook_in_deployment_files(path: Path) -> None:
    assert not WEBHOOK.search(path.read_text(encoding="utf-8"))


def test_webhook_pattern_catches_a_webhook() -> None:
    assert WEBHOOK.search('"host": "https://clinic.bitrix24.ru/rest/1/abc/"')


# Reachable only inside the compose network: no port of postgres is published (checked
# below), so its password opens nothing from outside. Generating it too is planned
# (docs/security.md); until then it is the one allowed literal.
INTERNAL_PASSWORDS = {"postgres": "airflow"}
SECRET_KEY = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|FERNET|JWT|(^|_)KEY$", re.I)
URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@([^:/\s]+)")
# A shell or Dockerfile assignment (VAR=..., ENV/ARG VAR=...) of a literal to a secret's name.
LITERAL = re.compile(r"(?im)^\s*(?:export\s+|ENV\s+|ARG\s+|local\s+)?\w*"
                     r"(?:token|secret|password|passwd|fernet|jwt)\w*=[\"']?(?![\"'$])[^\s\"']{4,}")


def _env_items(svc: dict[str, Any]) -> list[tuple[str, str]]:
    env = svc.get("environment") or {}
    items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
    return [(str(k), interpolate(str(v))) for k, v in items]


def hard_coded_secrets(compose: dict[str, Any], emulator_token: str) -> list[str]:
    """Every working secret a user without .env gets from this file (ours to reject).

    The emulator's token is the one exception: it opens only the emulator, which listens on
    loopback and holds only generated data.
    """
    found = []
    services = compose["services"]
    for name, svc in services.items():
        for key, value in _env_items(svc):
            if key.endswith(("_CMD", "_FILE")) or not value:
                pass
            elif SECRET_KEY.search(key) and INTERNAL_PASSWORDS.get(name) != value:
                found.append(f"{name}: {key}={value!r}")
            for password, host in URL_PASSWORD.findall(value):
                if INTERNAL_PASSWORDS.get(host) != password or services.get(host, {}).get(
                        "ports"):
                    found.append(f"{name}: {key} has password {password!r} for {host}")
            if key.startswith("AIRFLOW_CONN_"):
                c = json.loads(value)
                pw, host = c.get("password") or "", urlsplit(c.get("host") or "").hostname \
                    or c.get("host")
                if pw and pw != INTERNAL_PASSWORDS.get(host) and not (
                        pw == emulator_token and host == "bitrix24-emulator"):
                    found.append(f"{name}: {key} password {pw!r} for {host}")
        if name != "bitrix24-emulator" and "--token" in (svc.get("command") or []):
            found.append(f"{name}: a --token on the command line")
    return found


def test_no_hard_coded_secret_in_compose(compose: dict[str, Any],
                                         services: dict[str, Any]) -> None:
    token = flag(command_args(services["bitrix24-emulator"]), "--token")
    assert not hard_coded_secrets(compose, token)
    assert not services["postgres"].get("ports") and not services["redis"].get("ports")
    # Defaults of secrets are empty: a value comes from .env or is generated.
    defaults = defaults_in(COMPOSE.read_text(encoding="utf-8"))
    for name, default in defaults.items():
        if SECRET_KEY.search(name) and name not in ("BITRIX24_DEMO_TOKEN", "BITRIX24_TOKEN"):
            assert interpolate(default) == "", f"{name} has the default {default!r}"


def test_the_secret_check_catches_what_used_to_be_here() -> None:
    """The check itself: each hard-coded secret the compose file once had is reported."""
    old = yaml.safe_load("""
services:
  postgres: {image: postgres:16, ports: ["5432:5432"], environment: {POSTGRES_PASSWORD: x}}
  airflow-init:
    environment:
      _AIRFLOW_WWW_USER_PASSWORD: ${_AIRFLOW_WWW_USER_PASSWORD:-airflow}
      AIRFLOW__API_AUTH__JWT_SECRET: ${AIRFLOW__API_AUTH__JWT_SECRET:-demo-only-jwt-secret}
      AIRFLOW__CORE__FERNET_KEY: ${AIRFLOW__CORE__FERNET_KEY:-ZmVybmV0LWtleS1kZW1v}
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: postgresql://airflow:airflow@postgres/airflow
      AIRFLOW_CONN_B24: '{"conn_type": "http", "host": "https://x.bitrix24.ru", "password": "t0k"}'
      AIRFLOW_CONN_OTHER: '{"conn_type": "postgres", "host": "db.example", "password": "pw"}'
""")
    found = " ".join(hard_coded_secrets(old, "demo-webhook-token"))
    for what in ("_AIRFLOW_WWW_USER_PASSWORD", "JWT_SECRET", "FERNET_KEY", "POSTGRES_PASSWORD",
                 "SQL_ALCHEMY_CONN", "AIRFLOW_CONN_B24", "AIRFLOW_CONN_OTHER"):
        assert what in found, what


@pytest.mark.parametrize("path", [DOCKERFILE, INIT_SCRIPT], ids=lambda p: p.name)
def test_no_literal_secret_in_image_or_init_script(path: Path) -> None:
    hits = [m.group(0) for m in LITERAL.finditer(path.read_text(encoding="utf-8"))]
    assert not hits
    assert LITERAL.search('JWT_SECRET="demo-only-jwt-secret"')  # the pattern works
    assert LITERAL.search("ENV AIRFLOW__CORE__FERNET_KEY=ZmVybmV0")


def test_api_server_listens_on_loopback_unless_told(services: dict[str, Any]) -> None:
    [port] = services["airflow-apiserver"]["ports"]
    assert interpolate(port) == "127.0.0.1:8080:8080"
    assert interpolate(port, {"AIRFLOW_BIND": "0.0.0.0"}) == "0.0.0.0:8080:8080"
    for name, svc in services.items():
        for spec in svc.get("ports") or []:
            assert interpolate(str(spec)).startswith("127.0.0.1:"), f"{name} publishes {spec}"


def test_secrets_are_generated_once_kept_and_replaced_from_env(tmp_path: Path) -> None:
    """compose_init.sh secrets, as the airflow-secrets service runs it."""
    import os
    import stat
    import sys

    folder = tmp_path / "secrets"
    env = {**os.environ, "IDENTSYNC_SECRETS_DIR": str(folder),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for k in ("IDENTSYNC_JWT_SECRET", "IDENTSYNC_FERNET_KEY", "IDENTSYNC_ADMIN_PASSWORD"):
        env.pop(k, None)

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(INIT_SCRIPT), "secrets"], env={**env, **extra},
                              capture_output=True, text=True)

    assert run().returncode == 0
    first = {p.name: p.read_text() for p in folder.iterdir()}
    assert set(first) == {"jwt_secret", "fernet_key", "admin_password"}
    assert len(first["jwt_secret"]) >= 32 and len(first["admin_password"]) >= 12
    from cryptography.fernet import Fernet

    Fernet(first["fernet_key"].encode())  # a usable key, not a placeholder
    for p in folder.iterdir():
        assert not stat.S_IMODE(p.stat().st_mode) & 0o077 & ~0o040, p.name  # no world bits
    assert run().returncode == 0
    assert {p.name: p.read_text() for p in folder.iterdir()} == first  # kept on restart
    other = tmp_path / "other"
    assert run(IDENTSYNC_SECRETS_DIR=str(other)).returncode == 0
    assert (other / "jwt_secret").read_text() != first["jwt_secret"]  # generated, not fixed
    given = "x" * 40
    assert run(IDENTSYNC_JWT_SECRET=given).returncode == 0
    assert (folder / "jwt_secret").read_text() == given  # rotated from .env
    short = run(IDENTSYNC_JWT_SECRET="short")
    assert short.returncode != 0 and "shorter than 32" in short.stderr


def test_interpolation_helper() -> None:
    assert interpolate("${A:-${B:-x}}/$${H}") == "x/${H}"
    assert interpolate("${A:-${B:-x}}", {"B": "b"}) == "b"
    assert interpolate("${A:-d}", {"A": "a"}) == "a"


# -- the image ---------------------------------------------------------------------------------

def test_dockerfile_base_matches_pinned_airflow() -> None:
    from_tag = re.search(r"^FROM\s+apache/airflow:(\S+)-python3\.11\s*$",
                         DOCKERFILE.read_text(encoding="utf-8"), re.M)
    pinned = re.search(r"^apache-airflow==(\S+)\s*$",
                       (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert from_tag and pinned
    assert from_tag.group(1) == pinned.group(1)


def test_image_installs_the_package_and_nothing_else() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    copied = [line.split()[1:-1] for line in text.splitlines()
              if line.startswith(("COPY", "ADD"))]
    sources = {s for args in copied for s in args if not s.startswith("--")}
    assert sources == {"requirements.txt", "constraints.txt", "pyproject.toml", "README.md",
                       "src"}
    assert "-c /tmp/identsync/constraints.txt" in text
    assert "pip install --no-cache-dir --no-deps --no-build-isolation /tmp/identsync" in text
    ignore = [line for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")
              if line and not line.startswith("#")]
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert ignore[0] == "*" and allowed == sources
