"""Imported by a Celery worker's main process when it starts (Celery's ``imports`` setting,
from ``identsync.celery_config.CELERY_CONFIG``), before it forks its pool: Airflow's plugins are
loaded here once, so pool processes and the task processes they fork start warm."""

from identsync.preload import warm_worker

warm_worker()
