"""Shared fixtures live in tests/fixtures/; this file registers them and marks every test
with its folder (``unit``, ``contract``, ``integration``, ``dags``, ``e2e``, ``chaos``), so
``-m`` selects exactly what a folder holds: ``make test-fast`` is ``-m "unit or contract"``.

Folders: unit = pure logic, no network; contract = the emulator against captured real
responses; integration = real HTTP to the emulator and real PostgreSQL; dags = the DAG under
``airflow dags test``; e2e = the Airflow scheduler (LocalExecutor, Celery); chaos = faults,
kills and overlaps. The extra marker ``airflow`` flags tests that start Airflow processes.
"""

import os
from pathlib import Path

import pytest

# Tests never load Airflow's example DAGs and never reach out to the network at parse time.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

pytest_plugins = ["tests.fixtures.pg", "tests.fixtures.emulator", "tests.fixtures.ident"]

FOLDERS = ("unit", "contract", "integration", "dags", "e2e", "chaos")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(TESTS).parts
        if parts and parts[0] in FOLDERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
        if parts and parts[0] in ("dags", "e2e"):
            item.add_marker(pytest.mark.airflow)
