"""crm.status.list (deal stages) and the older crm.dealcategory.stage.list."""

from __future__ import annotations

from typing import Any

from b24emu.methods import Ctx, Result, method, param
from b24emu.phpquery import php_int

# (STATUS_ID, NAME, SORT, SEMANTICS) of the default pipeline; SEMANTICS None means "in progress"
DEFAULT_STAGES: list[tuple[str, str, int, str | None]] = [
    ("NEW", "Новая", 10, None),
    ("PREPARATION", "Подготовка документов", 20, None),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", 30, None),
    ("EXECUTING", "В работе", 40, None),
    ("FINAL_INVOICE", "Финальный счёт", 50, None),
    ("WON", "Сделка успешна", 60, "S"),
    ("LOSE", "Сделка провалена", 70, "F"),
    ("APOLOGY", "Анализ причины провала", 80, "F"),
]
_COLORS = {None: "#39A8EF", "S": "#7BD500", "F": "#FF5752"}
_EXTRA = {None: "process", "S": "success", "F": "failure"}


def stage_semantic(stage_id: str | None) -> str:
    """P (in progress), S (won) or F (lost) for a STAGE_ID, ignoring a C<n>: prefix."""
    bare = (stage_id or "").split(":", 1)[-1]
    for sid, _name, _sort, sem in DEFAULT_STAGES:
        if sid == bare:
            return sem or "P"
    return "P"


def stage_exists(stage_id: str, category: int = 0) -> bool:
    """Whether ``stage_id`` is a stage of pipeline ``category`` (spelled C<n>:X outside 0)."""
    return any(r["STATUS_ID"] == stage_id for r in _rows(category))


def _rows(category: int = 0) -> list[dict[str, Any]]:
    """The stages of a pipeline: every pipeline has the default set, prefixed C<n>: outside 0
    (as a portal spells them), with its own ENTITY_ID DEAL_STAGE_<n>."""
    rows = []
    prefix = f"C{category}:" if category else ""
    for n, (sid, name, sort, sem) in enumerate(DEFAULT_STAGES, start=1):
        rows.append({
            "ID": str(n + 100 * category),
            "ENTITY_ID": f"DEAL_STAGE_{category}" if category else "DEAL_STAGE",
            "STATUS_ID": prefix + sid,
            "NAME": name,
            "NAME_INIT": name,
            "SORT": sort,
            "SYSTEM": "Y" if sid in ("NEW", "WON", "LOSE") else "N",
            "CATEGORY_ID": str(category) if category else None,
            "COLOR": _COLORS[sem],
            "SEMANTICS": sem,
            "EXTRA": {"SEMANTICS": _EXTRA[sem], "COLOR": _COLORS[sem]},
        })
    return rows


@method("crm.status.list")
def status_list(params: dict[str, Any], ctx: Ctx) -> Result:
    flt = param(params, "filter")
    category = 0
    if isinstance(flt, dict):
        entity = str(flt.get("ENTITY_ID") or flt.get("=ENTITY_ID") or "")
        if entity.startswith("DEAL_STAGE_") and entity[11:].isdigit():
            category = int(entity[11:])
    rows = _rows(category)
    if isinstance(flt, dict):
        for key, value in flt.items():
            k = str(key).lstrip("=").upper()
            rows = [r for r in rows if str(r.get(k)) == str(value)]
    order = param(params, "order")
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            k = str(key).upper()
            rows.sort(key=lambda r, k=k: (r.get(k) is None, r.get(k) if r.get(k) is not None
                                          else 0), reverse=str(direction).upper() == "DESC")
    # Not paged: the real method reports no total/next (see call_batch.json).
    return Result(rows)


@method("crm.dealcategory.stage.list")
def dealcategory_stage_list(params: dict[str, Any], ctx: Ctx) -> Result:
    if php_int(param(params, "id")) != 0:
        return Result([])  # the emulator has only the default pipeline
    return Result([{"NAME": n, "SORT": s, "STATUS_ID": sid} for sid, n, s, _ in DEFAULT_STAGES])
