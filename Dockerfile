# The one image every docker-compose.yaml service runs: Airflow plus our pinned dependencies.
# dags/, plugins/ and b24emu/ are mounted at run time, never copied in, so editing the sync
# needs no rebuild (.dockerignore lets only the two requirement files into the context).
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt constraints.txt /tmp/identsync/

# requirements.txt pins apache-airflow to this base image's version, so pip leaves Airflow
# alone; the check makes the build fail loudly if a future pin ever drifts instead.
RUN set -eu; \
    airflow_version() { python -c 'import importlib.metadata as m; print(m.version("apache-airflow"))'; }; \
    before="$(airflow_version)"; \
    pip install --no-cache-dir -r /tmp/identsync/requirements.txt -c /tmp/identsync/constraints.txt; \
    after="$(airflow_version)"; \
    if [ "$before" != "$after" ]; then \
        echo "pip changed apache-airflow from $before to $after: align requirements.txt with the FROM tag" >&2; \
        exit 1; \
    fi; \
    rm -rf /tmp/identsync

# Demo state (emulator portal, IDENT demo database) lives on a named volume mounted here; a
# fresh volume copies this directory's owner and mode, so any AIRFLOW_UID in group 0 can write.
RUN mkdir -p -m 775 /opt/airflow/var
