"""The extract task has an execution_timeout: a stuck IDENT read never holds a branch's DAG."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.dags.test_dag_integrity import DAGS, _dagbag_env

PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {dag_id: {t.task_id: (t.execution_timeout.total_seconds() if t.execution_timeout
                            else None) for t in dag.tasks}
       for dag_id, dag in bag.dags.items() if not dag_id.endswith("_deleted")}
print("RESULT" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                             "timeouts": out}))
"""


def test_every_sync_dag_bounds_its_extract(tmp_path):
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS)], env=_dagbag_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, proc.stderr[-3000:]
    result = json.loads(line[-1][len("RESULT"):])
    assert result["errors"] == {} and result["timeouts"]
    for dag_id, timeouts in result["timeouts"].items():
        # Longer than one query may take (the connection's timeout, 300 s by default), shorter
        # than the */30 schedule: a stuck try fails and is retried instead of blocking runs.
        assert 300 < (timeouts["extract_receptions"] or 0) < 30 * 60, dag_id
