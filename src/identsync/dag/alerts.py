"""Telling someone: a failed sync task, and records that died in the retry queue.

Airflow's own notifiers send the message: :class:`FailureAlert` is the tasks'
``on_failure_callback`` (called once a task has no try left; the message carries the error,
which for failures that retrying cannot fix already says what to fix) and ``run_summary``
sends a second kind of alert when records went dead in this run. The notifier comes from
configuration ``alerts``: ``smtp`` (Airflow's SMTP provider, connection ``smtp_conn_id``) or
``slack`` (the Slack provider, when installed). Off by default.

No template ever renders these messages. A notifier renders its fields as Jinja with the task
context, in which ``conn`` and ``var`` reach every connection and variable; the portal's
error texts and IDENT's data are not ours, and one ``{{ conn.bitrix24_default.password }}``
in them would mail the webhook out. Escaping Jinja inside Jinja has no safe form (``{% raw %}``
is closed by any ``{%- endraw %}`` variant), so we format the whole message in Python, HTML-
escape and mask what is not ours, and hand it to a notifier subclass whose template fields
are empty: what we pass is what is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from identsync.bitrix24.redact import scrub
from identsync.config import Alerts
from identsync.errors import ConfigError
from identsync.mask import mask

# Fields a literal notifier still lets Airflow render: none of them ever holds foreign text.
_SMTP_RENDERED = ("from_email", "to", "cc", "bcc", "smtp_conn_id")
_SLACK_RENDERED = ("channel", "slack_conn_id")


def _literal(cls: type, rendered: tuple[str, ...]) -> type:
    """``cls`` rendering only ``rendered`` (our configuration), never subject or text."""
    return type(f"Literal{cls.__name__}", (cls,), {
        "template_fields": tuple(f for f in cls.template_fields if f in rendered),
        "template_ext": ()})  # a text ending in ".html" must not be read as a file name


def notifier(alerts: Alerts, *, subject: str, text: str) -> Any | None:
    """An Airflow notifier that sends ``subject`` and ``text`` exactly as given.

    None when alerts are off. ``text`` is HTML for mail and plain text for Slack; the caller
    has escaped and masked everything in it that is not ours.
    """
    if alerts.notifier is None:
        return None
    if alerts.notifier == "smtp":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        smtp = _literal(SmtpNotifier, _SMTP_RENDERED)
        return smtp(to=list(alerts.to), from_email=alerts.from_email, subject=subject,
                    html_content=text, smtp_conn_id=alerts.smtp_conn_id)
    try:
        from airflow.providers.slack.notifications.slack import SlackNotifier
    except ImportError:
        raise ConfigError("alerts.notifier: 'slack' needs apache-airflow-providers-slack "
                          "installed next to identsync") from None
    slack = _literal(SlackNotifier, _SLACK_RENDERED)
    return slack(slack_conn_id=alerts.slack_conn_id, text=f"*{subject}*\n{text}",
                 channel=_slack_channel(alerts))


def _slack_channel(alerts: Alerts) -> str:
    # Alerts name patients' records and quote the portal: never a workspace-wide default.
    if not alerts.slack_channel:
        raise ConfigError("alerts.slack_channel: name the (private) channel for sync alerts; "
                          "they are never sent to #general by default")
    return alerts.slack_channel


def _safe(value: Any) -> str:
    """Foreign text as it may appear in an alert: tokens and personal data masked, escaped."""
    return escape(mask(scrub(str(value))))


def failure_message(context: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and HTML body of "a task failed", from the task context, nothing rendered."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", None)
    mapped = f" [{map_index}]" if isinstance(map_index, int) and map_index >= 0 else ""
    try:
        log_url = ti.log_url if ti is not None else ""
    except Exception:  # the link is a convenience; the alert must still go out
        log_url = ""
    subject = f"IDENT sync failed: {dag_id} / {task_id}"
    text = (f"<p>Task <b>{escape(str(task_id))}</b>{mapped} of run "
            f"<b>{escape(str(context.get('run_id') or ''))}</b> ({escape(str(dag_id))}) failed "
            f"after try {escape(str(getattr(ti, 'try_number', '?')))}.</p>"
            f"<p>{_safe(context.get('exception') or '')}</p>"
            f"<p>Task log: {escape(str(log_url))}</p>")
    return subject, text


class FailureAlert:
    """The tasks' ``on_failure_callback``: formats the failure and sends it literally."""

    def __init__(self, alerts: Alerts) -> None:
        self.alerts = alerts

    def __call__(self, context: Any) -> None:
        subject, text = failure_message(context)
        send = notifier(self.alerts, subject=subject, text=text)
        if send is not None:
            send(context)


def on_failure(alerts: Alerts) -> FailureAlert | None:
    """The tasks' ``on_failure_callback`` (None when alerts are off)."""
    if alerts.notifier == "slack":
        _slack_channel(alerts)  # at DAG import, not when the first alert is due
    return None if alerts.notifier is None else FailureAlert(alerts)


def dead_records_message(pipeline: str, run_id: str, entries: Sequence[Mapping[str, Any]]
                         ) -> tuple[str, str]:
    """Subject and HTML body of "records died in the retry queue": portal texts masked."""
    lines = "".join(f"<li>{_safe(e['ident_id'])}: {_safe(e['step'])} refused "
                    f"{_safe(e['attempts'])} times: {_safe(e.get('code') or '')} "
                    f"{_safe(e.get('description') or '')}</li>" for e in entries[:100])
    text = (f"<p>{len(entries)} records of {escape(pipeline)} were refused by Bitrix24 on "
            f"every try and are now dead in the retry queue (run {escape(run_id)}). Fix the "
            f"cause, then give them new tries (sync-health page, RetryQueue.requeue).</p>"
            f"<ul>{lines}</ul>")
    return f"IDENT sync: {len(entries)} records dead in {pipeline}", text


def dead_records(alerts: Alerts, context: Any, pipeline: str, run_id: str,
                 entries: Sequence[dict[str, Any]]) -> bool:
    """Send "records died in the retry queue" for this run; returns whether it was sent."""
    if alerts.notifier is None or not alerts.on_dead_records or not entries:
        return False
    subject, text = dead_records_message(pipeline, run_id, entries)
    send = notifier(alerts, subject=subject, text=text)
    send(context)
    return True
