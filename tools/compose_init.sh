#!/usr/bin/env bash
# The airflow-init service of docker-compose.yaml (runs once, as root, inside the image).
#
# The image's /entrypoint has already run by the time this starts: it waited for PostgreSQL,
# migrated the metadata DB (_AIRFLOW_DB_MIGRATE) and created the admin user
# (_AIRFLOW_WWW_USER_CREATE), as in Airflow's own docker-compose. This script adds what the
# sync needs on top: writable directories, the sync-state database and the Bitrix24 pool.
# Every step is idempotent: `docker compose up` runs it again on each start.
#
# `compose_init.sh secrets` is the airflow-secrets service instead: it runs first, before
# PostgreSQL and Airflow, and leaves in /opt/airflow/secrets (a volume) the secrets every
# Airflow process reads through *_CMD settings. Nothing here or in docker-compose.yaml is a
# working default: a value comes from .env or is generated on this machine, once.
set -euo pipefail

SECRETS_DIR="${IDENTSYNC_SECRETS_DIR:-/opt/airflow/secrets}"  # overridable for the test

# put NAME VALUE_FROM_ENV GENERATOR MIN_LENGTH: .env's value wins (and replaces a stored one:
# that is how a secret is rotated); else a stored one is kept; else a fresh one is generated.
put() {
    local file="${SECRETS_DIR}/$1" given="$2" generator="$3" min="$4" value
    if [[ -n "${given}" ]]; then
        if (( ${#given} < min )); then
            echo "ERROR: the .env value for $1 is shorter than ${min} characters" >&2
            exit 1
        fi
        value="${given}"
        echo "$1: from .env"
    elif [[ -s "${file}" ]]; then
        echo "$1: kept"
        return
    else
        value="$(python -c "${generator}")"
        echo "$1: generated"
    fi
    # Written whole or not at all: a half-written key would lock every service out.
    umask 077
    printf '%s' "${value}" > "${file}.new"
    [[ "$(id -u)" != 0 ]] || chown "${AIRFLOW_UID}:0" "${file}.new"
    chmod 0440 "${file}.new"
    mv -f "${file}.new" "${file}"
}

if [[ "${1:-}" == "secrets" ]]; then
    AIRFLOW_UID="${AIRFLOW_UID:-50000}"
    mkdir -p "${SECRETS_DIR}"
    chmod 0750 "${SECRETS_DIR}"
    put jwt_secret "${IDENTSYNC_JWT_SECRET:-}" \
        'import secrets; print(secrets.token_urlsafe(48))' 32
    put fernet_key "${IDENTSYNC_FERNET_KEY:-}" \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' 44
    put admin_password "${IDENTSYNC_ADMIN_PASSWORD:-}" \
        'import secrets; print(secrets.token_urlsafe(18))' 12
    # Readable by the Airflow uid only (and group 0, as the image expects), even after
    # AIRFLOW_UID changed.
    [[ "$(id -u)" != 0 ]] || chown -R "${AIRFLOW_UID}:0" "${SECRETS_DIR}"
    echo "==> secrets ready in ${SECRETS_DIR} (admin password: docker compose exec" \
         "airflow-apiserver cat ${SECRETS_DIR}/admin_password)"
    exit 0
fi

: "${IDENTSYNC_POOL:?must name the pool from dags/identsync.json}"
: "${IDENTSYNC_POOL_SLOTS:?must give the pool size (POOL_SLOTS: 4 for plan standard)}"
: "${IDENTSYNC_STATE_DB:?must name the sync-state database}"

if [[ -z "${AIRFLOW_UID:-}" ]]; then
    echo "WARNING: AIRFLOW_UID is not set; on Linux put AIRFLOW_UID=\$(id -u) into .env," \
         "or files in logs/ and config/ end up owned by uid 50000." >&2
    AIRFLOW_UID=50000
fi

echo "==> directories"
mkdir -p /opt/airflow/{logs,dags,plugins,config,var}
# Creates config/airflow.cfg from defaults when missing, before the chown below.
airflow config list >/dev/null
# Only what Airflow writes to. dags/ and plugins/ are the user's checkout: read, never chowned.
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs /opt/airflow/config /opt/airflow/var

echo "==> sync-state database ${IDENTSYNC_STATE_DB}"
# A database of its own on Airflow's PostgreSQL server: `airflow db reset` or a migration
# never touches the comment ledger, which must survive them to keep comments exactly-once.
python - "${IDENTSYNC_STATE_DB}" <<'PY'
import os
import re
import sys

import sqlalchemy as sa

name = sys.argv[1]
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
    sys.exit(f"IDENTSYNC_STATE_DB={name!r}: use lower-case letters, digits and _")
engine = sa.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                          isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    found = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    if found:
        print(f"database {name} exists")
    else:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        print(f"created database {name}")
engine.dispose()
PY

echo "==> pool ${IDENTSYNC_POOL} (${IDENTSYNC_POOL_SLOTS} slots)"
# Without the pool the sync's tasks would wait forever; `pools set` also updates the size.
airflow pools set "${IDENTSYNC_POOL}" "${IDENTSYNC_POOL_SLOTS}" \
    "Concurrent Bitrix24 requests of the IDENT sync"

echo "==> airflow-init done"
