"""Batch mechanics without I/O: command validation, splitting, response normalisation.

Command keys must be non-integer strings. PHP turns a key like ``"0"`` or ``"12"`` into an
integer array key, and a response whose keys are exactly 0..n-1 comes back as a JSON *list*:
the key names are lost on the wire. We refuse such keys up front so every result maps back
to its command by name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import unquote_plus

from identsync.bitrix24.encoding import encode_command
from identsync.errors import CommandError

__all__ = [
    "MAX_COMMANDS",
    "BatchResult",
    "Command",
    "build_commands",
    "find_references",
    "normalise_batch",
    "split_commands",
]

log = logging.getLogger("identsync.bitrix24")

MAX_COMMANDS = 50
NO_RESULT = "NO_RESULT"

Command = Union[str, tuple[str, Mapping[str, Any] | None]]

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")
_BAD_KEY_CHARS = re.compile(r"[\[\]&=?#\s]")
_REF = re.compile(r"\$(?:result|next|total|error|time)\[([^\]]+)\]")


def check_key(key: Any) -> str:
    """Refuse keys that PHP would rewrite (integers) or that break ``$result[key]``."""
    if not isinstance(key, str):
        raise ValueError(
            f"batch command key {key!r} must be a string such as 'c{key}' "
            "(integer keys lose their names in PHP's JSON)"
        )
    if _INT_KEY.match(key):
        raise ValueError(
            f"batch command key {key!r} looks like an integer; PHP would turn it into an "
            f"integer array key and may answer with a JSON list. Use a name such as 'c{key}'"
        )
    if not key or _BAD_KEY_CHARS.search(key):
        raise ValueError(f"batch command key {key!r} must be non-empty without []&=?# or spaces")
    return key


def _method_of(cmd: str) -> str:
    return cmd.split("?", 1)[0]


def build_commands(commands: Mapping[str, Command]) -> dict[str, str]:
    """Validate keys and turn each command into the ``method?query`` string the server parses."""
    out: dict[str, str] = {}
    for key, command in commands.items():
        check_key(key)
        if isinstance(command, str):
            text = command
        elif isinstance(command, tuple) and len(command) == 2:
            text = encode_command(command[0], command[1])
        else:
            raise TypeError(f"batch command {key!r} must be 'method?query' or (method, params)")
        method = _method_of(text)
        if not method:
            raise ValueError(f"batch command {key!r} has no method name")
        if method.lower() in ("batch", "batch.json"):
            raise ValueError(f"batch command {key!r}: a batch cannot contain a batch")
        out[key] = text
    return out


def method_of(cmd: str) -> str:
    """The method name of a ``method?query`` command."""
    return _method_of(cmd)


def find_references(cmd: str) -> set[str]:
    """Keys referenced by ``$result[key]``, ``$next[key]``, ... anywhere in the command."""
    return set(_REF.findall(unquote_plus(cmd)))


def split_commands(cmds: Mapping[str, str], limit: int = MAX_COMMANDS) -> list[dict[str, str]]:
    """Split commands into requests of at most ``limit``, never separating a reference.

    Commands connected by references (in either direction, transitively) form a group; groups
    are taken in order of their first command and packed greedily; inside a request the
    caller's order is kept, so a referenced command still runs before the one using it.
    A group larger than ``limit`` raises ValueError.
    """
    keys = list(cmds)
    if len(keys) <= limit:
        return [dict(cmds)] if keys else []
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key, cmd in cmds.items():
        for ref in find_references(cmd):
            if ref not in index:
                log.warning("batch command %s references unknown command %s", key, ref)
                continue
            a, b = find(index[key]), find(index[ref])
            if a != b:
                parent[max(a, b)] = min(a, b)  # root = earliest member keeps groups ordered

    groups: dict[int, list[int]] = {}
    for i in range(len(keys)):
        groups.setdefault(find(i), []).append(i)

    requests: list[list[int]] = []
    current: list[int] = []
    for root in sorted(groups):
        members = groups[root]
        if len(members) > limit:
            raise ValueError(
                f"{len(members)} batch commands reference each other (starting with "
                f"{keys[members[0]]!r}); at most {limit} can share one request"
            )
        if len(current) + len(members) > limit:
            requests.append(current)
            current = []
        current.extend(members)
    if current:
        requests.append(current)
    return [{keys[i]: cmds[keys[i]] for i in sorted(req)} for req in requests]


@dataclass
class BatchResult:
    """A batch outcome, always keyed by command key whatever shape PHP gave the maps."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, CommandError] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)
    times: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: BatchResult) -> None:
        self.results.update(other.results)
        self.errors.update(other.errors)
        self.totals.update(other.totals)
        self.nexts.update(other.nexts)
        self.times.update(other.times)

    def raise_for_errors(self) -> None:
        """Raise the first CommandError, if any (for callers that want all-or-nothing)."""
        for err in self.errors.values():
            raise err


def _as_map(value: Any) -> dict[str, Any]:
    """PHP maps: ``[]`` when empty, a JSON list when the keys were 0..n-1, else an object."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    raise ValueError(f"unexpected batch map of type {type(value).__name__}")


def _command_error(key: str, raw: Any, method: str | None) -> CommandError:
    if isinstance(raw, Mapping):
        code = str(raw.get("error") or "")
        desc = str(raw.get("error_description") or raw.get("error_message") or "")
    else:  # not seen in the wild; keep whatever text came
        code, desc = "", str(raw)
    return CommandError(key, code, desc, method=method)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def normalise_batch(
    inner: Mapping[str, Any], cmds: Mapping[str, str] | Sequence[str]
) -> BatchResult:
    """Turn the ``result`` block of a batch response into a :class:`BatchResult`.

    :param inner: ``response["result"]`` (with ``result``, ``result_error``, ...).
    :param cmds: the commands sent (key -> command, or just the keys, in order).
    Every sent key ends up in ``results`` or ``errors``; one with neither gets a ``NO_RESULT``
    error. Keys the server answered that we did not send are kept too (never dropped).
    """
    methods = {k: method_of(v) for k, v in cmds.items()} if isinstance(cmds, Mapping) else {}
    keys = list(cmds)
    out = BatchResult()
    out.results = _as_map(inner.get("result"))
    for key, raw in _as_map(inner.get("result_error")).items():
        out.errors[key] = _command_error(key, raw, methods.get(key))
    for key, raw in _as_map(inner.get("result_total")).items():
        if (n := _int_or_none(raw)) is not None:
            out.totals[key] = n
    for key, raw in _as_map(inner.get("result_next")).items():
        if (n := _int_or_none(raw)) is not None:
            out.nexts[key] = n
    out.times = _as_map(inner.get("result_time"))
    for key in keys:
        if key not in out.results and key not in out.errors:
            out.errors[key] = CommandError(
                key, NO_RESULT, "the portal returned neither a result nor an error",
                method=methods.get(key),
            )
    return out


def not_sent(cmds: Mapping[str, str], why: str) -> BatchResult:
    """Errors for commands never sent (an earlier request of a halted batch failed)."""
    return BatchResult(
        errors={k: CommandError(k, NO_RESULT, why, method=method_of(v)) for k, v in cmds.items()}
    )
