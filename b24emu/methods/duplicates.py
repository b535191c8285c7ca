"""crm.duplicate.findbycomm: find entities by a normalised phone or e-mail."""

from __future__ import annotations

from typing import Any

from b24emu.methods import Ctx, Result, legacy, method, param
from b24emu.phones import normalize_email, normalize_phone
from b24emu.phpquery import php_list

MAX_VALUES = 20
_ENTITY_TYPES = ("LEAD", "CONTACT", "COMPANY")


@method("crm.duplicate.findbycomm")
def findbycomm(params: dict[str, Any], ctx: Ctx) -> Result:
    ctype = str(param(params, "type") or "").upper()
    if ctype not in ("PHONE", "EMAIL"):
        raise legacy("Communication type is not defined or not supported.")
    raw_values = param(params, "values")
    if not isinstance(raw_values, (dict, list)):
        raise legacy("Communication values is not defined.")
    entity_type = str(param(params, "entity_type") or "").upper()
    if entity_type and entity_type not in _ENTITY_TYPES:
        raise legacy("Entity type is not supported.")
    normalize = normalize_phone if ctype == "PHONE" else normalize_email
    # The portal silently uses only the first 20 values.
    keys = {normalize(v) for v in php_list(raw_values)[:MAX_VALUES] if not isinstance(v, dict)}
    keys.discard("")
    found: set[int] = set()
    if entity_type in ("", "CONTACT"):
        for key in keys:
            found |= ctx.portal.contacts.comm_lookup(ctype, key)
    # Leads and companies are not emulated: they never match.
    return Result({"CONTACT": sorted(found)} if found else {})
