"""crm.deal.userfield.* and crm.contact.userfield.*: custom UF_CRM_* fields."""

from __future__ import annotations

import re
from typing import Any

from b24emu.methods import ApiError, Ctx, Result, legacy, method, param

_ENTITY_IDS = {"deal": "CRM_DEAL", "contact": "CRM_CONTACT"}
# What the portal fills in when a string field is created without SETTINGS.
_STRING_SETTINGS = {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0,
                    "DEFAULT_VALUE": None}
_TYPES = {"string", "integer", "double", "boolean", "date", "datetime", "enumeration",
          "money", "url", "address", "file", "employee", "crm", "crm_status", "iblock_element"}


def _label(value: Any) -> Any:
    return value if value not in (None, "") else None


def _add(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    fields = param(params, "fields")
    if not isinstance(fields, dict):
        raise legacy("The parameter 'fields' must be array.")
    fields = {str(k).upper(): v for k, v in fields.items()}
    raw_name = str(fields.get("FIELD_NAME") or "").strip().upper()
    if not raw_name:
        raise ApiError("ERROR_CORE", "FIELD_NAME is not defined.", 400)
    name = raw_name if raw_name.startswith("UF_CRM_") else "UF_CRM_" + raw_name
    if not re.fullmatch(r"UF_CRM_[A-Z0-9_]+", name) or len(name) > 50:
        raise ApiError("ERROR_CORE", "Invalid FIELD_NAME.", 400)
    existing = ctx.portal.userfields[kind]
    if name in existing:
        raise ApiError("ERROR_CORE", f"A user field named {name} already exists.", 400)
    utype = str(fields.get("USER_TYPE_ID") or "string").lower()
    if utype not in _TYPES:
        raise ApiError("ERROR_CORE", "USER_TYPE_ID is not supported.", 400)
    label = _label(fields.get("LABEL"))
    uf = {
        "ID": ctx.portal.new_userfield_id(),
        "ENTITY_ID": _ENTITY_IDS[kind],
        "FIELD_NAME": name,
        "USER_TYPE_ID": utype,
        "XML_ID": _label(fields.get("XML_ID")),
        "SORT": str(fields.get("SORT") or "100"),
        "MULTIPLE": "Y" if str(fields.get("MULTIPLE", "N")).upper() == "Y" else "N",
        "MANDATORY": "Y" if str(fields.get("MANDATORY", "N")).upper() == "Y" else "N",
        "SHOW_FILTER": str(fields.get("SHOW_FILTER") or "N"),
        "SHOW_IN_LIST": str(fields.get("SHOW_IN_LIST") or "Y"),
        "EDIT_IN_LIST": str(fields.get("EDIT_IN_LIST") or "Y"),
        "IS_SEARCHABLE": str(fields.get("IS_SEARCHABLE") or "N"),
        "SETTINGS": fields.get("SETTINGS") if isinstance(fields.get("SETTINGS"), dict)
        else dict(_STRING_SETTINGS) if utype == "string" else {},
        "EDIT_FORM_LABEL": _label(fields.get("EDIT_FORM_LABEL")) or label,
        "LIST_COLUMN_LABEL": _label(fields.get("LIST_COLUMN_LABEL")) or label,
        "LIST_FILTER_LABEL": _label(fields.get("LIST_FILTER_LABEL")) or label,
    }
    existing[name] = uf
    ctx.portal.commit()
    return Result(int(uf["ID"]))


def _list(kind: str, params: dict[str, Any], ctx: Ctx) -> Result:
    rows = [dict(uf) for uf in ctx.portal.userfields[kind].values()]
    flt = param(params, "filter")
    if isinstance(flt, dict):
        for key, value in flt.items():
            k = str(key).lstrip("=").upper()
            rows = [r for r in rows if str(r.get(k)) == str(value)]
    # No paging: every field comes back in one response.
    return Result(rows)


def _register(kind: str) -> None:
    method(f"crm.{kind}.userfield.add")(lambda p, c: _add(kind, p, c))
    method(f"crm.{kind}.userfield.list")(lambda p, c: _list(kind, p, c))


for _kind in _ENTITY_IDS:
    _register(_kind)


def declared(portal: Any, kind: str, name: str) -> bool:
    """Whether ``name`` is a custom field the portal has for ``kind`` (deal / contact).

    A real portal keeps only declared ``UF_CRM_*`` fields on add/update and drops the rest
    without an error (crm_entities._write asks this)."""
    if getattr(portal, "keep_undeclared_fields", False):
        return True
    return name in portal.userfields.get(kind, {})
