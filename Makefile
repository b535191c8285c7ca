# Two commands matter on a fresh machine:  `make demo`  and  `make test`  (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast demo airflow bench chaos sim sim-scheduler emulator clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "MISSING: Python's" \
	  "venv module for $(PYTHON) (needs Python 3.11). Debian, as root: apt-get install -y" \
	  "python3-venv; or set PYTHON=/path/to/python3.11. Then run the command again." >&2; exit 1; }
	$(PY) -m pip install --quiet --upgrade "pip==25.3"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@# The sync library itself (src/identsync), editable, also registered as an Airflow provider.
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# Everything: unit, contract, integration (emulator over HTTP + PostgreSQL), Airflow DAG tests.
# The services and the browser the suite needs are set up here, not by CI: PostgreSQL
# (started if down), Redis for the Celery tests (started if down), Debian's Chromium for the
# UI tests (installed if missing and root). Each says what is missing where it cannot.
test: $(STAMP)
	./tools/ensure_postgres.sh
	./tools/ensure_redis.sh
	./tools/ensure_chromium.sh
	@# pytest exits 5 when it collects nothing: say so instead of failing by accident.
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# Only the tests that need neither Airflow nor PostgreSQL (markers set from the folders).
test-fast: $(STAMP)
	$(PY) -m pytest -m "unit or contract" $(PYTEST_ARGS)

# The main job: emulator + demo IDENT database + `airflow dags test` per branch, with a summary.
demo: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m tools.demo run

# Airflow's UI with everything configured (scheduler, api-server, dag-processor, triggerer).
airflow: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m tools.demo airflow

# Benchmark against the seed's strategies; prints one table (bench/results.md, bench/README.md).
bench: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m bench.run $(BENCH_ARGS)

# Fault injection: a generated clinic synced day by day through the DAG while the emulator
# injects 503/500/drops/applied-then-failed/slow responses; then the invariants are checked.
chaos: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m tools.chaos $(CHAOS_ARGS)

# Clinic-life simulation: days of a generated clinic synced through the DAG, the portal
# checked against an independent model after every day (tools/sim/run.py).
sim: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m tools.sim.run $(SIM_ARGS)

# The same simulated clinic under the real scheduler: runs triggered, cleared and paused
# through the REST API (tools/sim/scheduler.py).
sim-scheduler: $(STAMP)
	./tools/ensure_postgres.sh
	$(PY) -m tools.sim.scheduler $(SIM_ARGS)

emulator: $(STAMP)
	$(PY) -m b24emu --port 8024 --token demo-webhook-token --plan standard --state var/portal.sqlite3

clean:
	rm -rf var .pytest_cache .hypothesis
