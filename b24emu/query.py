"""list-method machinery: filter prefixes, ordering, paging and select projection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from b24emu.phpquery import php_int, php_list
from b24emu.schema import MULTI_FIELDS, field_types, scalar_fields
from b24emu.store import EntityTable, Portal
from b24emu.values import typed

PAGE_SIZE = 50

_FILTER_KEY = re.compile(r"^(>=|<=|!@|!%|!=|=%|%=|><|>|<|=|!|@|%)?(.+)$")
_UF_TYPES = {"integer": "integer", "double": "double", "date": "date", "datetime": "datetime",
             "boolean": "integer"}
# Equality on these goes through a hash index; floats and dates are compared typed instead.
_INDEXABLE_TYPES = {"integer", "string", "crm_status", "crm_contact", "crm_company", "user",
                    "crm_category", "crm_currency", "char", "crm_multifield", "enumeration"}


@dataclass
class Cond:
    field: str
    op: str
    value: Any
    ftype: str

    def values(self) -> list[Any]:
        return php_list(self.value)


def field_type(portal: Portal, kind: str, field: str) -> str | None:
    """Type of ``field`` for ``kind``; UF_CRM_* fields are always known (declared or not)."""
    if field.startswith("UF_"):
        uf = portal.userfields.get(kind, {}).get(field)
        return _UF_TYPES.get(uf["USER_TYPE_ID"], "string") if uf else "string"
    return field_types(kind).get(field)


def parse_filter(portal: Portal, kind: str, raw: Any) -> list[Cond]:
    """Filter conditions; keys naming unknown standard fields are ignored like the CRM does."""
    conds: list[Cond] = []
    if not isinstance(raw, dict):
        return conds
    for key, value in raw.items():
        m = _FILTER_KEY.match(str(key))
        if not m:
            continue
        op = m.group(1) or "="
        name = m.group(2).upper()
        ftype = field_type(portal, kind, name)
        if ftype is None:
            continue
        if op == "!=":
            op = "!"
        conds.append(Cond(name, op, value, ftype))
    return conds


def _row_values(row: dict[str, Any], field: str) -> list[Any]:
    value = row.get(field)
    if field in MULTI_FIELDS:
        return [item.get("VALUE") for item in (value or [])]
    if isinstance(value, list):
        return value
    return [value]


def _is_empty(v: Any) -> bool:
    return v is None or v == "" or v is False


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _eq(ftype: str, stored: Any, wanted: Any) -> bool:
    if _is_empty(wanted) or (isinstance(wanted, str) and wanted.strip() == ""):
        return _is_empty(stored)
    if _is_empty(stored):
        return False
    if ftype in ("double", "date", "datetime", "integer", "user", "crm_contact", "crm_company",
                 "crm_category"):
        a, b = typed(ftype, stored), typed(ftype, wanted)
        return a is not None and a == b
    return str(stored) == str(wanted)


def _cmp(ftype: str, stored: Any, wanted: Any, op: str) -> bool:
    if _is_empty(stored):
        return False
    a, b = typed(ftype, stored), typed(ftype, wanted)
    if a is None or b is None:
        a, b = str(stored), str(wanted)
    try:
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op == "<":
            return a < b
        return a <= b
    except TypeError:
        return False


_INT_TYPES = {"integer", "user", "crm_contact", "crm_company", "crm_category"}


def _wanted(cond: Cond) -> list[Any]:
    """The values an =/@/!/!@ condition compares with (arrays act as IN lists)."""
    if isinstance(cond.value, (list, dict)):
        return cond.values()
    if cond.op in ("@", "!@") and isinstance(cond.value, str) and "," in cond.value:
        return [w.strip() for w in cond.value.split(",")]
    return [cond.value]


def matches(row: dict[str, Any], cond: Cond) -> bool:
    """Does ``row`` satisfy ``cond``? Multi-valued fields match if any value does."""
    stored_values = _row_values(row, cond.field)
    op = cond.op
    if op in ("=", "@", "!", "!@"):
        wanted = _wanted(cond)
        hit = any(_eq(cond.ftype, s, w) for s in stored_values for w in wanted)
        return hit if op in ("=", "@") else not hit
    if op in (">", ">=", "<", "<="):
        return any(_cmp(cond.ftype, s, cond.value, op) for s in stored_values)
    if op in ("%", "!%"):
        needle = str(cond.value).lower()
        hit = any(s is not None and needle in str(s).lower() for s in stored_values)
        return hit if op == "%" else not hit
    if op in ("=%", "%="):
        rx = _like(str(cond.value))
        return any(s is not None and rx.match(str(s)) for s in stored_values)
    if op == "><":
        bounds = cond.values()
        if len(bounds) != 2:
            return False
        return any(_cmp(cond.ftype, s, bounds[0], ">=") and _cmp(cond.ftype, s, bounds[1], "<=")
                   for s in stored_values)
    return False


def _index_values(cond: Cond) -> list[str] | None:
    """Index keys equivalent to an =/@ condition, or None when only a scan is exact."""
    if cond.op not in ("=", "@") or cond.ftype not in _INDEXABLE_TYPES:
        return None
    out: list[str] = []
    for v in _wanted(cond):
        if isinstance(v, (list, dict)):
            return None
        if _is_empty(v):
            out.append("")
            continue
        text = str(v)
        if text.strip() == "":
            return None
        if cond.ftype in _INT_TYPES and not re.fullmatch(r"0|-?[1-9]\d*", text):
            return None
        out.append(text)
    return out


def _index_candidates(table: EntityTable, conds: list[Cond]) -> set[int] | None:
    """The smallest ID set an equality/IN condition yields through an index, or None."""
    best: set[int] | None = None
    for cond in conds:
        vals = _index_values(cond)
        if vals is None:
            continue
        ids = table.eq_lookup(cond.field, vals)
        if best is None or len(ids) < len(best):
            best = ids
    return best


def _min_id(conds: list[Cond]) -> int | None:
    lows = []
    for c in conds:
        if c.field == "ID" and c.op in (">", ">=") and not isinstance(c.value, (list, dict)):
            v = php_int(c.value)
            lows.append(v if c.op == ">" else v - 1)
    return max(lows) if lows else None


def parse_order(raw: Any) -> list[tuple[str, bool]]:
    """[(FIELD, descending)], default ID ascending."""
    order: list[tuple[str, bool]] = []
    if isinstance(raw, dict):
        for field, direction in raw.items():
            order.append((str(field).upper(), str(direction).upper() == "DESC"))
    return order or [("ID", False)]


def find(portal: Portal, kind: str, conds: list[Cond], order: list[tuple[str, bool]],
         start: int, limit: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int | None]:
    """One page of matching rows and the total (None when ``start`` is -1: no counting)."""
    table = portal.tables[kind]
    counting = start >= 0
    offset = max(start, 0)
    candidates = _index_candidates(table, conds)
    id_only = len(order) == 1 and order[0][0] == "ID"
    descending = id_only and order[0][1]
    if candidates is not None:
        ids: Iterable[int] = sorted(candidates, reverse=descending) if id_only else candidates
    else:
        ids = table.iter_ids(None if descending else _min_id(conds), descending)
    rows = table.rows
    check: Callable[[dict[str, Any]], bool] = lambda r: all(matches(r, c) for c in conds)
    if id_only:
        page: list[dict[str, Any]] = []
        total = 0
        for entity_id in ids:
            row = rows[entity_id]
            if not check(row):
                continue
            if offset <= total < offset + limit:
                page.append(row)
            total += 1
            if not counting and len(page) >= limit:
                break
        return page, (total if counting else None)
    matched = [rows[i] for i in ids if check(rows[i])]
    types = {f: field_type(portal, kind, f) or "string" for f, _d in order}
    for field, desc in reversed(order + ([] if any(f == "ID" for f, _ in order)
                                         else [("ID", False)])):
        ftype = types.get(field, "integer")
        matched.sort(key=lambda r, f=field, t=ftype: _sort_key(t, r.get(f)), reverse=desc)
    return matched[offset:offset + limit], (len(matched) if counting else None)


def _sort_key(ftype: str, value: Any) -> tuple[int, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    t = typed(ftype, value)
    if t is None:
        return (0, 0)
    return (1, t) if isinstance(t, float) else (2, str(t))


def selected_fields(portal: Portal, kind: str, raw_select: Any,
                    row: dict[str, Any]) -> list[str]:
    """Output keys for one row: defaults / `*` skip multi-fields and UF fields."""
    wanted = [str(s).upper() for s in php_list(raw_select) if str(s).strip() != ""]
    base = scalar_fields(kind)
    out: list[str] = ["ID"]
    if not wanted or "*" in wanted:
        out.extend(f for f in base if f != "ID")
    for name in wanted:
        if name == "*":
            continue
        if name == "UF_*":
            out.extend(uf_names(portal, kind, row))
        elif name in base or name in MULTI_FIELDS or name.startswith("UF_"):
            out.append(name)
    seen: set[str] = set()
    return [f for f in out if not (f in seen or seen.add(f))]


def uf_names(portal: Portal, kind: str, row: dict[str, Any]) -> list[str]:
    """Declared UF fields, then undeclared ones this row happens to carry."""
    declared = list(portal.userfields.get(kind, {}))
    extra = sorted(k for k in row if k.startswith("UF_") and k not in declared)
    return declared + extra


def project(portal: Portal, kind: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """A row as the portal prints it: multi-fields only when the entity has values."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in MULTI_FIELDS:
            items = row.get(name) or []
            if items:
                out[name] = [dict(item) for item in items]
            continue
        if name.startswith("UF_"):
            uf = portal.userfields.get(kind, {}).get(name)
            default: Any = [] if uf and uf.get("MULTIPLE") == "Y" else None
            value = row.get(name, default)
            out[name] = list(value) if isinstance(value, list) else value
            continue
        value = row.get(name)
        out[name] = list(value) if isinstance(value, list) else value
    return out


def page_meta(start: int, total: int | None) -> tuple[int | None, int | None]:
    """(next, total) as list methods report them; start=-1 reports neither."""
    if total is None or start < 0:
        return None, None
    nxt = start + PAGE_SIZE if start + PAGE_SIZE < total else None
    return nxt, total
