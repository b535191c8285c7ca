"""The batch method: up to 50 commands, halt, and $result/$error/... references.

What the portal substitutes, in every parameter *value* of a command (never in a key), after
the value is URL-decoded, so percent-encoding does not hide a reference and there is no
escape: ``$result[key]``, ``$next[key]``, ``$total[key]``, ``$error[key]`` and
``$time[key]``, each followed by any number of ``[part]`` walked one at a time (lower case
only, as the portal's pattern is case-sensitive). A value that is exactly one reference gets
the raw value (an array too); a reference inside a longer string is string-replaced. A
reference to a command that failed, was skipped or does not exist (or a path that leads
nowhere) substitutes an empty string; an array inside a longer string becomes "Array" and a
float is written with PHP's 14 significant digits, as PHP string conversion does.
"""

from __future__ import annotations

import re
import time
from typing import Any

from b24emu.dispatch import Dispatcher, time_block
from b24emu.phpquery import parse_str, php_bool

MAX_COMMANDS = 50
_KINDS = "result|error|time|total|next"
_REF_EXACT = re.compile(rf"^\$({_KINDS})((?:\[[^\]]*\])+)$")
_REF_ANY = re.compile(rf"\$({_KINDS})((?:\[[^\]]*\])+)")
_PART = re.compile(r"\[([^\]]*)\]")
_MISSING = object()


def split_command(call: Any) -> tuple[str, str]:
    """parse_url of "method?query": the path is the method, the query stops at '#'."""
    text = str(call)
    path, _sep, rest = text.partition("?")
    path = path.split("#", 1)[0]
    return path.strip().strip("/").lower(), rest.split("#", 1)[0]


def inner_methods(params: dict[str, Any]) -> list[str]:
    cmd = params.get("cmd")
    if not isinstance(cmd, dict):
        return []
    return [split_command(c)[0] for c in list(cmd.values())[:MAX_COMMANDS]]


class _Refs:
    def __init__(self, results: dict[str, Any], errors: dict[str, Any], totals: dict[str, Any],
                 nexts: dict[str, Any], times: dict[str, Any]) -> None:
        self.sources = {"result": results, "error": errors, "total": totals, "next": nexts,
                        "time": times}

    def resolve(self, kind: str, path: str) -> Any:
        node: Any = self.sources[kind]
        for part in _PART.findall(path):  # one [part] at a time
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return _MISSING
        return node

    def substitute(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if not isinstance(value, str) or "$" not in value:
            return value
        exact = _REF_EXACT.match(value)
        if exact:
            found = self.resolve(exact.group(1), exact.group(2))
            return "" if found is _MISSING else found
        return _REF_ANY.sub(lambda m: _to_php_string(self.resolve(m.group(1), m.group(2))),
                            value)


def _to_php_string(value: Any) -> str:
    if value is _MISSING or value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, (list, dict)):
        return "Array"
    if isinstance(value, float):  # PHP's (string) uses precision=14
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".14G")
    return str(value)


def run_batch(dispatcher: Dispatcher, params: dict[str, Any], user_id: int) -> tuple[
        dict[str, Any], dict[str, Any]]:
    """Execute a batch; returns (the `result` value, the top-level `time` block)."""
    start = time.time()
    halt = php_bool(params.get("halt", 0))
    cmd = params.get("cmd")
    if not isinstance(cmd, dict):
        cmd = {}
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    refs = _Refs(results, errors, totals, nexts, times)
    processing = 0.0
    operating = 0.0
    reset_at: int | None = None
    for position, (key, call) in enumerate(cmd.items()):
        key = str(key)
        if position >= MAX_COMMANDS:
            errors[key] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED",
                           "error_description": "Max batch length exceeded"}
            continue
        method, query = split_command(call)
        if method == "batch":
            errors[key] = {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                           "error_description": "Method is not allowed for batch usage"}
            if halt:
                break
            continue
        cmd_params = refs.substitute(parse_str(query))
        outcome = dispatcher.call(method, cmd_params, user_id)
        if outcome.error is not None:
            errors[key] = outcome.error.body()
            if halt:
                break
            continue
        assert outcome.result is not None
        results[key] = outcome.result.value
        if outcome.result.total is not None:
            totals[key] = outcome.result.total
        if outcome.result.next is not None:
            nexts[key] = outcome.result.next
        times[key] = outcome.time
        processing += outcome.time["processing"]
        if outcome.time["operating"] >= operating:
            operating = outcome.time["operating"]
            reset_at = outcome.time.get("operating_reset_at")
    value = {"result": results, "result_error": errors, "result_total": totals,
             "result_next": nexts, "result_time": times}
    return value, time_block(start, time.time(), processing, operating, reset_at)
