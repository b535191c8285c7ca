"""crm.contact.* and crm.deal.*: list, get, add, update, fields."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from b24emu.methods import Ctx, Result, legacy, method, param
from b24emu.methods.status import stage_exists, stage_semantic
from b24emu.methods.userfields import declared
from b24emu.phpquery import php_int, php_list
from b24emu.query import (
    find,
    page_meta,
    parse_filter,
    parse_order,
    project,
    selected_fields,
    uf_names,
)
from b24emu.schema import MULTI_FIELDS, describe, field_types, read_only, scalar_fields
from b24emu.values import PORTAL_TZ, cast_for_write, now_iso

_UF_SCALAR_TYPES = {"integer": "integer", "double": "double", "date": "date",
                    "datetime": "datetime", "boolean": "integer"}


def _fields_param(params: dict[str, Any]) -> dict[str, Any]:
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise legacy("The parameter 'fields' must be array.")
    return fields


def _id_param(params: dict[str, Any]) -> int:
    entity_id = php_int(param(params, "id"))
    if entity_id <= 0:
        raise legacy("ID is not defined or invalid.")
    return entity_id


def _multi_items(value: Any) -> list[dict[str, Any]]:
    return [item for item in php_list(value) if isinstance(item, dict)]


def _apply_multi(ctx: Ctx, ctype: str, current: list[dict[str, Any]], value: Any,
                 adding: bool) -> list[dict[str, Any]]:
    """PHONE-style update: no ID appends, {ID, VALUE} replaces, {ID, DELETE: Y} deletes."""
    items = [dict(i) for i in current]
    for raw in _multi_items(value):
        item = {str(k).upper(): v for k, v in raw.items()}
        item_id = None if adding else str(php_int(item.get("ID"))) if item.get("ID") else None
        val = item.get("VALUE")
        val = "" if val is None else str(val)
        if item_id is not None:
            existing = next((i for i in items if i["ID"] == item_id), None)
            if existing is None:
                continue  # someone else's or stale item ID: the CRM ignores it
            if str(item.get("DELETE", "")).upper() == "Y" or val.strip() == "":
                items.remove(existing)
            else:
                existing["VALUE"] = val
                if item.get("VALUE_TYPE"):
                    existing["VALUE_TYPE"] = str(item["VALUE_TYPE"])
            continue
        if val.strip() == "":
            continue
        items.append({
            "ID": ctx.portal.new_multifield_id(),
            "VALUE_TYPE": str(item.get("VALUE_TYPE") or "WORK"),
            "VALUE": val,
            "TYPE_ID": ctype,
        })
    return items


def _stage_category(stage: Any) -> str:
    """The pipeline a stage id belongs to: ``C2:NEW`` -> "2", ``NEW`` -> "0"."""
    text = str(stage or "")
    if text.startswith("C") and ":" in text and text[1:text.index(":")].isdigit():
        return text[1:text.index(":")]
    return "0"


def _write(ctx: Ctx, kind: str, row: dict[str, Any], fields: dict[str, Any],
           adding: bool) -> None:
    """Copy request fields into ``row`` with the CRM's casts; unknown fields are dropped,
    undeclared UF_CRM_* fields too, silently, as a real portal does (see README)."""
    types = field_types(kind)
    ro = read_only(kind)
    ufs = ctx.portal.userfields.get(kind, {})
    for raw_name, value in fields.items():
        name = str(raw_name).upper()
        if name in MULTI_FIELDS and name in types:
            row[name] = _apply_multi(ctx, name, row.get(name) or [], value, adding)
        elif name.startswith("UF_"):
            if not declared(ctx.portal, kind, name):
                continue
            uf = ufs.get(name)
            utype = _UF_SCALAR_TYPES.get(uf["USER_TYPE_ID"], "string") if uf else "string"
            if uf and uf.get("MULTIPLE") == "Y":
                row[name] = [cast_for_write(utype, v) for v in php_list(value)]
            elif isinstance(value, (list, dict)) and not uf:
                row[name] = [cast_for_write(utype, v) for v in php_list(value)]
            else:
                row[name] = cast_for_write(utype, value)
        elif name == "CONTACT_IDS" and kind == "deal":
            ids = [str(php_int(v)) for v in php_list(value) if php_int(v) > 0]
            row["CONTACT_ID"] = ids[0] if ids else None
        elif name in types and name not in ro:
            if kind == "deal" and name == "CATEGORY_ID" and not adding:
                continue  # a deal changes pipeline only through crm.deal.category.set
            if kind == "deal" and name == "STAGE_ID" and not adding \
                    and _stage_category(value) != str(row.get("CATEGORY_ID") or "0"):
                continue  # a stage of another pipeline does not move the deal: ignored
            row[name] = cast_for_write(types[name], value)
    row["HAS_PHONE"] = "Y" if row.get("PHONE") else "N"
    row["HAS_EMAIL"] = "Y" if row.get("EMAIL") else "N"
    if kind == "deal":
        row.pop("HAS_PHONE", None)
        row.pop("HAS_EMAIL", None)


def _new_row(ctx: Ctx, kind: str) -> dict[str, Any]:
    now = now_iso()
    uid = str(ctx.user_id)
    row: dict[str, Any] = {f: None for f in scalar_fields(kind)}
    row.update({"ASSIGNED_BY_ID": uid, "CREATED_BY_ID": uid, "MODIFY_BY_ID": uid,
                "DATE_CREATE": now, "DATE_MODIFY": now, "OPENED": "Y"})
    if kind == "contact":
        row.update({"EXPORT": "Y", "TYPE_ID": "CLIENT", "SOURCE_ID": "SELF", "HAS_IMOL": "N"})
    else:
        today = datetime.now(PORTAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        row.update({
            "TYPE_ID": "SALE", "CATEGORY_ID": "0", "STAGE_ID": None, "IS_NEW": "Y",
            "IS_RECURRING": "N", "IS_RETURN_CUSTOMER": "N", "IS_REPEATED_APPROACH": "N",
            "CURRENCY_ID": "RUB", "OPPORTUNITY": "0.00", "IS_MANUAL_OPPORTUNITY": "N",
            "TAX_VALUE": "0.00", "CLOSED": "N", "MOVED_BY_ID": uid, "MOVED_TIME": now,
            "BEGINDATE": today.isoformat(timespec="seconds"),
            "CLOSEDATE": (today + timedelta(days=7)).isoformat(timespec="seconds"),
        })
    return row


def _deal_stage_bookkeeping(ctx: Ctx, row: dict[str, Any], old_stage: str | None) -> None:
    category = row.get("CATEGORY_ID") or "0"
    if row.get("STAGE_ID") and not stage_exists(row["STAGE_ID"], int(category)):
        # An unknown STAGE_ID: a new deal starts in the pipeline's first stage, an existing
        # one keeps its stage (README, "Known differences": what a portal does).
        row["STAGE_ID"] = old_stage
    if not row.get("STAGE_ID"):
        row["STAGE_ID"] = "NEW" if category == "0" else f"C{category}:NEW"
    sem = stage_semantic(row["STAGE_ID"])
    row["STAGE_SEMANTIC_ID"] = sem
    row["CLOSED"] = "Y" if sem in ("S", "F") else "N"
    if old_stage is not None and old_stage != row["STAGE_ID"]:
        row["MOVED_TIME"] = now_iso()
        row["MOVED_BY_ID"] = str(ctx.user_id)
        row["IS_NEW"] = "N"


def _add(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    fields = _fields_param(params)
    row = _new_row(ctx, kind)
    _write(ctx, kind, row, fields, adding=True)
    if kind == "deal":
        _deal_stage_bookkeeping(ctx, row, None)
    table = ctx.portal.tables[kind]
    if kind == "deal" and not row.get("TITLE"):
        row["TITLE"] = f"Сделка #{table.next_id}"
    entity_id = table.insert(row)
    ctx.portal.commit(kind, entity_id)
    return Result(entity_id)


def _update(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    entity_id = _id_param(params)
    table = ctx.portal.tables[kind]
    current = table.get(entity_id)
    if current is None:
        raise legacy("Not found")
    fields = _fields_param(params)
    row = dict(current)
    old_stage = row.get("STAGE_ID")
    _write(ctx, kind, row, fields, adding=False)
    if kind == "deal":
        _deal_stage_bookkeeping(ctx, row, old_stage)
    row["DATE_MODIFY"] = now_iso()
    row["MODIFY_BY_ID"] = str(ctx.user_id)
    table.put(entity_id, row)
    ctx.portal.commit(kind, entity_id)
    return Result(True)


def _delete(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    """What a manager's delete does on a portal: the entity and its timeline comments go; a
    deleted contact's deals lose their link to it (CONTACT_ID empty), the deals stay."""
    entity_id = _id_param(params)
    portal = ctx.portal
    if portal.delete(kind, entity_id) is None:
        raise legacy("Not found")
    owner_type = "deal" if kind == "deal" else "contact"
    for cid in [i for i, c in portal.comments.rows.items()
                if str(c.get("ENTITY_TYPE", "")).lower() == owner_type
                and str(c.get("ENTITY_ID")) == str(entity_id)]:
        portal.delete("comment", cid)
    if kind == "contact":
        for did, deal in list(portal.deals.rows.items()):
            if str(deal.get("CONTACT_ID") or "") == str(entity_id):
                row = dict(deal, CONTACT_ID=None)
                portal.deals.put(did, row)
                portal.commit("deal", did)
    portal.commit()
    return Result(True)


def _get(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    entity_id = _id_param(params)
    row = ctx.portal.tables[kind].get(entity_id)
    if row is None:
        raise legacy("Not found")
    names = scalar_fields(kind) + [f for f in MULTI_FIELDS if f in field_types(kind)]
    return Result(project(ctx.portal, kind, row, names + uf_names(ctx.portal, kind, row)))


def _list(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    conds = parse_filter(ctx.portal, kind, param(params, "filter"))
    order = parse_order(param(params, "order"))
    raw_start = param(params, "start")
    start = php_int(raw_start) if raw_start is not None else 0
    if start < -1:
        start = 0
    rows, total = find(ctx.portal, kind, conds, order, start)
    select = param(params, "select")
    out = [project(ctx.portal, kind, r, selected_fields(ctx.portal, kind, select, r))
           for r in rows]
    nxt, tot = page_meta(start, total)
    return Result(out, next=nxt, total=tot)


def _fields(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    out = describe(kind)
    for name, uf in ctx.portal.userfields.get(kind, {}).items():
        label = uf.get("EDIT_FORM_LABEL") or name
        out[name] = {
            "type": uf["USER_TYPE_ID"],
            "isRequired": uf.get("MANDATORY") == "Y",
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": uf.get("MULTIPLE") == "Y",
            "isDynamic": True,
            "title": name,
            "listLabel": uf.get("LIST_COLUMN_LABEL") or label,
            "formLabel": label,
            "filterLabel": uf.get("LIST_FILTER_LABEL") or label,
            "settings": uf.get("SETTINGS") or {},
        }
    return Result(out)


def _register(kind: str) -> None:
    def bind(fn: Any) -> Any:
        return lambda params, ctx: fn(kind, params, ctx)

    method(f"crm.{kind}.add")(bind(_add))
    method(f"crm.{kind}.update")(bind(_update))
    method(f"crm.{kind}.get")(bind(_get))
    method(f"crm.{kind}.delete")(bind(_delete))
    method(f"crm.{kind}.list")(bind(_list))
    method(f"crm.{kind}.fields")(bind(_fields))


for _kind in ("contact", "deal"):
    _register(_kind)

