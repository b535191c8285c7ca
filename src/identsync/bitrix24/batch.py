"""Batch mechanics without I/O: command validation, splitting, response normalisation.

Command keys must be non-integer strings. PHP turns a key like ``"0"`` or ``"12"`` into an
integer array key, and a response whose keys are exactly 0..n-1 comes back as a JSON *list*:
the key names are lost on the wire. We refuse such keys up front so every result maps back
to its command by name.

References. In a ``(method, params)`` command a reference to another command is a
:class:`Ref` value (``Ref("c0")`` is ``$result[c0]``); every string is plain text. The
portal rewrites ``$result[..]``, ``$next[..]``, ``$total[..]``, ``$error[..]`` and
``$time[..]`` anywhere in a batch command's values, and offers no escape, so a command whose
text contains one of them (staff typed it) travels outside the batch as a plain call. A
``"method?query"`` string command is the caller's own wire text: its references are meant.

A group of commands that reference each other may be larger than one request: the commands
go out in dependency order, a reference inside the same request is left to the portal, and a
reference to a command of an earlier request is filled in here with the very value the
portal would have substituted (:func:`render`).
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import unquote_plus

from identsync.bitrix24.encoding import encode_command
from identsync.bitrix24.redact import portal_text
from identsync.errors import CommandError

__all__ = [
    "MAX_COMMANDS",
    "BatchResult",
    "Command",
    "Prepared",
    "Ref",
    "Request",
    "build_commands",
    "find_references",
    "normalise_batch",
    "plan_requests",
    "portal_would_rewrite",
    "prepare_commands",
    "render",
    "split_commands",
]

log = logging.getLogger("identsync.bitrix24")

MAX_COMMANDS = 50
NO_RESULT = "NO_RESULT"
REFERENCE_FAILED = "REFERENCE_FAILED"

Command = Union[str, tuple[str, Mapping[str, Any] | None]]

_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")
_BAD_KEY_CHARS = re.compile(r"[\[\]&=?#\s]")
_REF = re.compile(r"\$(?:result|next|total|error|time)\[([^\]]+)\]")
# What the portal's batch engine may rewrite inside a value. Wider than its own pattern on
# purpose (any case, no closing bracket needed): a false alarm costs one plain call, a miss
# corrupts a patient's data.
_PORTAL_REF = re.compile(r"\$(?:result|next|total|error|time)\[", re.IGNORECASE)
_REF_KINDS = ("result", "next", "total", "error", "time")
_REF_WHOLE = re.compile(r"^\$(?:result|next|total|error|time)\[([^\]]+)\](?:\[[^\]]*\])*$")


class Ref:
    """A reference to another command of the same ``batch()`` call.

    ``Ref("dup0", "CONTACT")`` is ``$result[dup0][CONTACT]``; ``kind`` picks ``$next``,
    ``$total``, ``$error`` or ``$time``. It must be a whole parameter value (the portal then
    passes the raw value, an array included).
    """

    __slots__ = ("key", "path", "kind")

    def __init__(self, key: str, *path: str | int, kind: str = "result") -> None:
        if kind not in _REF_KINDS:
            raise ValueError(f"reference kind {kind!r} is not one of {', '.join(_REF_KINDS)}")
        self.key = check_key(key)
        self.path = tuple(str(p) for p in path)
        for part in self.path:
            if not part or _BAD_KEY_CHARS.search(part):
                raise ValueError(f"reference path part {part!r} must be non-empty without "
                                 "[]&=?# or spaces")
        self.kind = kind

    def text(self) -> str:
        return f"${self.kind}[{self.key}]" + "".join(f"[{p}]" for p in self.path)

    def __repr__(self) -> str:
        return f"Ref({self.text()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ref):
            return NotImplemented
        return (self.key, self.path, self.kind) == (other.key, other.path, other.kind)

    def __hash__(self) -> int:
        return hash((self.key, self.path, self.kind))


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
            text = encode_command(command[0], _inline_refs(command[1]))
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
    """Split ``method?query`` commands into requests of at most ``limit``, never separating
    a reference (raw text cannot be filled in client-side); see :func:`plan_requests`.

    A group larger than ``limit`` raises ValueError.
    """
    prepared = prepare_commands(dict(cmds))
    return [{k: cmds[k] for k in req.keys} for req in plan_requests(prepared, limit)]


def _walk(value: Any, leaf: Any) -> Any:
    """``value`` with every scalar (and Ref) replaced by ``leaf(scalar)``."""
    if isinstance(value, Mapping):
        return {k: _walk(v, leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, leaf) for v in value]
    return leaf(value)


def _inline_refs(params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if params is None:
        return None
    return _walk(params, lambda v: v.text() if isinstance(v, Ref) else v)


def _refs_in(params: Any) -> list[Ref]:
    found: list[Ref] = []
    _walk(params, lambda v: found.append(v) if isinstance(v, Ref) else None)
    return found


def portal_would_rewrite(params: Mapping[str, Any] | None) -> bool:
    """True when a plain-text value holds something the portal's batch engine substitutes."""
    hits: list[bool] = []

    def leaf(v: Any) -> None:
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, str) and _PORTAL_REF.search(v):
            hits.append(True)

    _walk(params or {}, leaf)
    return bool(hits)


@dataclass(frozen=True)
class Prepared:
    """One validated command: ``params`` (with Ref values) or the caller's ``raw`` text."""

    key: str
    method: str
    params: Mapping[str, Any] | None = None
    raw: str | None = None
    refs: tuple[Ref, ...] = ()  # explicit references (may cross requests)
    text_refs: frozenset[str] = frozenset()  # references in raw text (same request only)
    literal: bool = False  # plain text the portal would rewrite: send as a plain call

    @property
    def deps(self) -> set[str]:
        return {r.key for r in self.refs} | set(self.text_refs)


def prepare_commands(commands: Mapping[str, Command]) -> dict[str, Prepared]:
    """Validate every command and note its references and whether it must avoid the batch."""
    texts = build_commands(commands)  # keys, shapes and methods checked once, the same way
    out: dict[str, Prepared] = {}
    for key, command in commands.items():
        if isinstance(command, str):
            refs = find_references(command)
            known = frozenset(r for r in refs if r in texts and r != key)
            for ref in sorted(refs - known):
                log.warning("batch command %s references unknown command %s", key, ref)
            out[key] = Prepared(key, method_of(command), raw=command, text_refs=known)
            continue
        method, params = command
        refs = tuple(_refs_in(params))
        for ref in refs:
            if ref.key not in texts or ref.key == key:
                raise ValueError(f"batch command {key!r} references {ref.text()!r}, which is "
                                 "not another command of this call")
        literal = portal_would_rewrite(params)
        if literal and _looks_meant(params, texts):
            # No value is logged (it may be a patient's text), only where to look.
            log.warning("batch command %s: a value is exactly a reference to another command "
                        "but is sent as text; pass Ref(...) if a reference was meant", key)
        out[key] = Prepared(key, method, params=params, refs=refs, literal=literal)
    return out


def _looks_meant(params: Any, keys: Mapping[str, Any]) -> bool:
    hits: list[bool] = []

    def leaf(v: Any) -> None:
        if isinstance(v, str) and (m := _REF_WHOLE.match(v)) and m.group(1) in keys:
            hits.append(True)

    _walk(params or {}, leaf)
    return bool(hits)


@dataclass(frozen=True)
class Request:
    """One HTTP request of a batch() call: a batch of ``keys``, or one plain call."""

    keys: tuple[str, ...]
    plain: bool = False


def _topo_order(prepared: Mapping[str, Prepared]) -> list[str]:
    """Dependencies first, otherwise the caller's order (stable Kahn)."""
    keys = list(prepared)
    index = {k: i for i, k in enumerate(keys)}
    waiting = {k: set(p.deps) for k, p in prepared.items()}
    users: dict[str, list[str]] = {k: [] for k in keys}
    for k, deps in waiting.items():
        for d in deps:
            users[d].append(k)
    ready = [index[k] for k, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        k = keys[heapq.heappop(ready)]
        order.append(k)
        for u in users[k]:
            waiting[u].discard(k)
            if not waiting[u]:
                heapq.heappush(ready, index[u])
    if len(order) != len(keys):
        stuck = sorted((k for k in keys if waiting[k]), key=index.get)
        raise ValueError(f"batch commands reference each other in a cycle: {', '.join(stuck)}")
    return order


class _Groups:
    def __init__(self, keys: list[str]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self, order: list[str]) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for k in order:
            out.setdefault(self.find(k), []).append(k)
        return list(out.values())  # ordered by each group's first member


def plan_requests(prepared: Mapping[str, Prepared], limit: int = MAX_COMMANDS) -> list[Request]:
    """The requests that carry these commands, in the order to send them.

    A connected group (references either way) that fits one request and holds no literal
    command travels whole, packed greedily with others (the old rule). A larger group, or one
    with literal commands, goes out in dependency order across requests; its explicit
    references to earlier requests are filled in client-side. Raw-text references cannot be
    filled in, so commands joined by them always share a request (more than ``limit`` of
    them is refused). Inside each request dependencies come first.
    """
    order = _topo_order(prepared)
    position = {k: i for i, k in enumerate(order)}
    soft, hard = _Groups(order), _Groups(order)
    for k, p in prepared.items():
        for d in p.text_refs:
            soft.join(k, d)
            hard.join(k, d)
        for r in p.refs:
            soft.join(k, r.key)

    requests: list[Request] = []
    current: list[str] = []
    # Plain calls wait until the open batch is sent (they may use its results); a command
    # that uses one of them then starts the next batch.
    plain: list[str] = []

    def close() -> None:
        if current:
            requests.append(Request(tuple(sorted(current, key=position.get))))
            current.clear()
        requests.extend(Request((k,), plain=True) for k in plain)
        plain.clear()

    for group in soft.members(order):
        if len(group) <= limit and not any(prepared[k].literal for k in group):
            if len(current) + len(group) > limit:
                close()
            current.extend(group)
            continue
        roots = {hard.find(k) for k in group}
        units = [u for u in hard.members(order) if hard.find(u[0]) in roots]
        for unit in _units_in_order(units, prepared, position):
            if len(unit) > limit:
                raise ValueError(
                    f"{len(unit)} batch commands reference each other in their query text "
                    f"(starting with {unit[0]!r}); at most {limit} can share one request. "
                    "Pass (method, params) with Ref values to let them span requests"
                )
            if any(prepared[k].literal for k in unit):
                if len(unit) > 1:
                    raise ValueError(
                        f"batch command {unit[0]!r} and others are joined by references in "
                        "their query text, and one of them carries text the portal would "
                        "rewrite; it must travel alone"
                    )
                plain.append(unit[0])
                continue
            waits = any(d in plain for k in unit for d in prepared[k].deps)
            if waits or len(current) + len(unit) > limit:
                close()
            current.extend(unit)
    close()
    return requests


def _units_in_order(units: list[list[str]], prepared: Mapping[str, Prepared],
                    position: Mapping[str, int]) -> list[list[str]]:
    """Units (raw-text groups) ordered so every unit follows the units it references."""
    if len(units) <= 1:
        return units
    ordered_units = sorted(units, key=lambda u: position[u[0]])
    unit_of = {k: i for i, u in enumerate(ordered_units) for k in u}
    as_cmds = {
        f"u{i}": Prepared(f"u{i}", "unit", text_refs=frozenset(
            f"u{unit_of[d]}" for k in u for d in prepared[k].deps if unit_of[d] != i))
        for i, u in enumerate(ordered_units)
    }
    return [ordered_units[int(name[1:])] for name in _topo_order(as_cmds)]


_MISSING = object()


def _lookup(ref: Ref, done: BatchResult) -> Any:
    """The value the portal substitutes for ``ref``, from the answers so far."""
    if ref.kind == "error":
        err = done.errors.get(ref.key)
        node: Any = (_MISSING if err is None else
                     {"error": err.code, "error_description": err.description})
    else:
        source = {"result": done.results, "next": done.nexts, "total": done.totals,
                  "time": done.times}[ref.kind]
        node = source.get(ref.key, _MISSING)
    for part in ref.path:  # one [part] at a time, like the portal
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def render(p: Prepared, here: set[str], done: BatchResult) -> tuple[str, Any] | CommandError:
    """What to send for ``p``: ``(method, params)`` with every reference either left as
    ``$kind[...]`` text (its command runs earlier in the same request, ``here``) or replaced
    by the value the portal would have put there; a CommandError when a referenced command
    gave nothing to substitute (the portal would pass garbage; we send nothing instead)."""
    if p.raw is not None:
        return p.method, p.raw
    missing: list[Ref] = []

    def leaf(v: Any) -> Any:
        if not isinstance(v, Ref):
            return v
        if v.key in here:
            return v.text()
        found = _lookup(v, done)
        if found is _MISSING:
            missing.append(v)
            return None
        return found

    params = _walk(p.params, leaf) if p.params is not None else None
    if missing:
        ref = missing[0]
        why = done.errors.get(ref.key)
        reason = (f"it failed ({why.code or '-'} {why.description})" if why
                  else "it gave no such value")
        return CommandError(p.key, REFERENCE_FAILED,
                            f"not sent: it uses {ref.text()} and {reason}", method=p.method)
    return p.method, params


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
        desc = portal_text(str(raw.get("error_description") or raw.get("error_message") or ""))
    else:  # not seen in the wild; keep whatever text came
        code, desc = "", portal_text(str(raw))
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
