#!/usr/bin/env bash
# The airflow-init service of docker-compose.yaml (runs once, as root, inside the image).
#
# The image's /entrypoint has already run by the time this starts: it waited for PostgreSQL,
# migrated the metadata DB (_AIRFLOW_DB_MIGRATE) and created the admin user
# (_AIRFLOW_WWW_USER_CREATE), as in Airflow's own docker-compose. This script adds what the
# sync needs on top: writable directories, the sync-state database and the Bitrix24 pool.
# Every step is idempotent: `docker compose up` runs it again on each start.
set -euo pipefail

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
