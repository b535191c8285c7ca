"""crm.timeline.comment.add / list."""

from __future__ import annotations

from typing import Any

from b24emu.methods import Ctx, Result, legacy, method
from b24emu.phpquery import php_int
from b24emu.query import find, page_meta, parse_filter, parse_order, project
from b24emu.values import now_iso

_OWNER_TABLES = {"deal": "deal", "contact": "contact"}
_KNOWN_TYPES = ("lead", "deal", "contact", "company", "order", "dynamic")
ROW_FIELDS = ["ID", "ENTITY_ID", "ENTITY_TYPE", "CREATED", "COMMENT", "AUTHOR_ID", "FILES"]


@method("crm.timeline.comment.add")
def comment_add(params: dict[str, Any], ctx: Ctx) -> Result:
    # Unlike crm.deal.*, this method reads only the lowercase `fields` key.
    fields = params.get("fields")
    if not isinstance(fields, dict):
        raise legacy("The parameter 'fields' must be array.")
    fields = {str(k).upper(): v for k, v in fields.items()}
    entity_id = php_int(fields.get("ENTITY_ID"))
    entity_type = str(fields.get("ENTITY_TYPE") or "").lower()
    if entity_id <= 0:
        raise legacy("ENTITY_ID is not defined or invalid.")
    if entity_type not in _KNOWN_TYPES:
        raise legacy("ENTITY_TYPE is not defined or invalid.")
    comment = fields.get("COMMENT")
    if comment is None or str(comment).strip() == "":
        raise legacy("COMMENT is not defined or invalid.")
    owner = _OWNER_TABLES.get(entity_type)
    if owner is None or ctx.portal.tables[owner].get(entity_id) is None:
        raise legacy("Not found")
    author = php_int(fields.get("AUTHOR_ID")) or ctx.user_id
    row = {
        "ID": None,
        "ENTITY_ID": str(entity_id),
        "ENTITY_TYPE": entity_type,
        "CREATED": now_iso(),
        "COMMENT": str(comment),
        "AUTHOR_ID": str(author),
        "FILES": [],
    }
    table = ctx.portal.comments
    new_id = table.insert(row)
    ctx.portal.commit("comment", new_id)
    return Result(new_id)


@method("crm.timeline.comment.list")
def comment_list(params: dict[str, Any], ctx: Ctx) -> Result:
    flt = params.get("filter")
    if not isinstance(flt, dict):
        flt = {}
    plain = {str(k).lstrip("=").upper(): v for k, v in flt.items()}
    if php_int(plain.get("ENTITY_ID")) <= 0:
        raise legacy("ENTITY_ID is not defined or invalid.")
    if str(plain.get("ENTITY_TYPE") or "").lower() not in _KNOWN_TYPES:
        raise legacy("ENTITY_TYPE is not defined or invalid.")
    flt = {k: (str(v).lower() if str(k).lstrip("=").upper() == "ENTITY_TYPE" else v)
           for k, v in flt.items()}
    conds = parse_filter(ctx.portal, "comment", flt)
    order = parse_order(params.get("order"))
    start = php_int(params.get("start")) if params.get("start") is not None else 0
    rows, total = find(ctx.portal, "comment", conds, order, max(start, -1))
    out = [project(ctx.portal, "comment", r, ROW_FIELDS) for r in rows]
    nxt, tot = page_meta(start, total)
    return Result(out, next=nxt, total=tot)
