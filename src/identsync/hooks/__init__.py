"""Airflow hooks (thin adapters over identsync clients)."""
