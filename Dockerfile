# The one image every docker-compose.yaml service runs: Airflow, our pinned dependencies and
# the identsync distribution (src/, also the Airflow provider that registers the "Bitrix24"
# connection type). dags/, plugins/, b24emu/ and tools/ are mounted at run time.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt constraints.txt pyproject.toml README.md /tmp/identsync/
COPY --chown=airflow:0 src /tmp/identsync/src

# requirements.txt pins apache-airflow to this base image's version, so pip leaves Airflow
# alone; the check makes the build fail loudly if a future pin ever drifts instead.
RUN set -eu; \
    airflow_version() { python -c 'import importlib.metadata as m; print(m.version("apache-airflow"))'; }; \
    before="$(airflow_version)"; \
    pip install --no-cache-dir -r /tmp/identsync/requirements.txt -c /tmp/identsync/constraints.txt; \
    pip install --no-cache-dir --no-deps --no-build-isolation /tmp/identsync; \
    after="$(airflow_version)"; \
    if [ "$before" != "$after" ]; then \
        echo "pip changed apache-airflow from $before to $after: align requirements.txt with the FROM tag" >&2; \
        exit 1; \
    fi; \
    rm -rf /tmp/identsync

# Demo state (emulator portal, IDENT demo database) lives on a named volume mounted here; a
# fresh volume copies this directory's owner and mode, so any AIRFLOW_UID in group 0 can write.
RUN mkdir -p -m 775 /opt/airflow/var
