"""Nothing to load here: the installed ``identsync`` package registers its Airflow plugin itself.

The sync-health page is ``identsync.ui.plugin.IdentSyncUIPlugin``, registered through the
``airflow.plugins`` entry point of the distribution (pyproject.toml). This file used to
define the plugin and had to be copied into Airflow's plugins folder; it now defines no
``AirflowPlugin`` on purpose, because a second class named ``identsync_ui`` here would be
reported by Airflow as "Plugin 'identsync_ui' already registered". A deployment that still
holds a copy of the old file should delete that copy.
"""
