"""The sync-health page: a read model over the sync state (``health``), its HTML (``page``)
and the FastAPI app the Airflow plugin mounts (``app``, the only module here that knows
Airflow)."""
