"""``[celery] celery_config_options = identsync.celery_config.CELERY_CONFIG``: Airflow's own
Celery configuration, plus one module each worker imports when it starts, before it forks its
pool (``identsync.celery_worker``: the task processes then start warm, ``identsync.preload``).

The whole configuration, not only the addition: the provider builds the worker's app from this
dict alone (``get_celery_configuration``), so Airflow's broker, result backend and the rest
must be in it. A deployment with its own Celery configuration adds the module to its
``imports`` instead.
"""

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), "identsync.celery_worker"),
}
