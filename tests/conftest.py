"""Shared fixtures live in tests/fixtures/; this file only registers them."""

import os

# Tests never load Airflow's example DAGs and never reach out to the network at parse time.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

pytest_plugins = ["tests.fixtures.pg", "tests.fixtures.emulator"]
