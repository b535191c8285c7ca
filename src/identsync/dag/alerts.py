"""Telling someone: a failed sync task, and records that died in the retry queue.

Airflow's own notifier mechanism: a notifier object is the tasks' ``on_failure_callback``
(called once a task has no try left; the message carries the error, which for failures that
retrying cannot fix already says what to fix) and ``run_summary`` sends a second kind of
alert when records went dead in this run. The notifier comes from configuration ``alerts``:
``smtp`` (Airflow's SMTP provider, connection ``smtp_conn_id``) or ``slack`` (the Slack
provider, when installed). Off by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from identsync.config import Alerts
from identsync.errors import ConfigError

FAILURE_SUBJECT = "IDENT sync failed: {{ dag.dag_id }} / {{ ti.task_id }}"
FAILURE_TEXT = (
    "<p>Task <b>{{ ti.task_id }}</b>{% if ti.map_index is not none and ti.map_index >= 0 %}"
    " [{{ ti.map_index }}]{% endif %} of run <b>{{ run_id }}</b> "
    "({{ dag.dag_id }}) failed after try {{ ti.try_number }}.</p>"
    "<p>{{ exception | e }}</p>"
    "<p>Task log: {{ ti.log_url }}</p>")


def _raw(text: str) -> str:
    """Our own text inside a notifier's Jinja template: never interpreted."""
    return "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"


def notifier(alerts: Alerts, *, subject: str, text: str) -> Any | None:
    """An Airflow notifier for the configured channel (None when alerts are off)."""
    if alerts.notifier is None:
        return None
    if alerts.notifier == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(to=list(alerts.to), from_email=alerts.from_email, subject=subject,
                            html_content=text, smtp_conn_id=alerts.smtp_conn_id)
    try:
        from airflow.providers.slack.notifications.slack import SlackNotifier
    except ImportError:
        raise ConfigError("alerts.notifier: 'slack' needs apache-airflow-providers-slack "
                          "installed next to identsync") from None
    return SlackNotifier(slack_conn_id=alerts.slack_conn_id, text=text,
                         channel=alerts.slack_channel or "#general")


def on_failure(alerts: Alerts) -> Callable[[Any], None] | None:
    """The tasks' ``on_failure_callback`` (None when alerts are off)."""
    return notifier(alerts, subject=FAILURE_SUBJECT, text=FAILURE_TEXT)


def dead_records(alerts: Alerts, context: Any, pipeline: str, run_id: str,
                 entries: Sequence[dict[str, Any]]) -> bool:
    """Send "records died in the retry queue" for this run; returns whether it was sent."""
    if alerts.notifier is None or not alerts.on_dead_records or not entries:
        return False
    lines = "".join(f"<li>{escape(str(e['ident_id']))}: {escape(str(e['step']))} refused "
                    f"{e['attempts']} times: {escape(str(e.get('code') or ''))} "
                    f"{escape(str(e.get('description') or ''))}</li>" for e in entries[:100])
    text = (f"<p>{len(entries)} records of {pipeline} were refused by Bitrix24 on every try "
            f"and are now dead in the retry queue (run {run_id}). Fix the cause, then give "
            f"them new tries (sync-health page, RetryQueue.requeue).</p><ul>{lines}</ul>")
    send = notifier(alerts, subject=_raw(f"IDENT sync: {len(entries)} records dead in "
                                         f"{pipeline}"), text=_raw(text))
    send(context)
    return True
