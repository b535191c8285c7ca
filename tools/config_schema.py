"""Write the configuration's JSON schema and the README's table of keys, from the model.

    python -m tools.config_schema          # rewrite docs/identsync.schema.json and README.md
    python -m tools.config_schema --check  # exit 1 if either is out of date (the tests do it)

The model (identsync.config.SyncConfig) is the only place a key, its default and its meaning
are written; this turns it into what editors (JSON schema) and readers (README) use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from identsync.config import BRANCH_OVERRIDES, SyncConfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "identsync.schema.json"
README = ROOT / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def schema() -> dict[str, Any]:
    out = SyncConfig.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "identsync configuration (dags/identsync.json)"
    # The loader ignores both (identsync.config.META_KEYS): "$schema" lets an editor validate
    # the file against this schema, "$comment" holds a note.
    props = out.setdefault("properties", {})
    props["$schema"] = {"type": "string", "description": "this schema's URL or path, for "
                                                         "editors; ignored by the sync"}
    props["$comment"] = {"type": "string"}
    return out


def _default(name: str, field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default if field.default_factory is None else field.default_factory()
    if hasattr(value, "model_dump"):
        return "see below" if name == "alerts" else json.dumps(value.model_dump())
    if isinstance(value, dict):
        return "see dags/identsync.json"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value, ensure_ascii=False, default=str)}`"


def table() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, field in SyncConfig.model_fields.items():
        meaning = field.description or ""
        if name == "branches":
            meaning = ("`[{\"id\": 1, \"name\": \"...\"}]`: IDENT `OwnCompanies.ID`, one DAG "
                       "each; a branch may set its own " + ", ".join(f"`{k}`" for k in
                                                                   BRANCH_OVERRIDES))
        meaning = meaning.replace("|", "\\|")  # a pipe would end the table cell
        rows.append(f"| `{name}` | {_default(name, field)} | {meaning} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {START} ... {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    want_schema = json.dumps(schema(), indent=1, ensure_ascii=False) + "\n"
    want_readme = readme_with_table(README.read_text(encoding="utf-8"))
    if args.check:
        stale = [p.name for p, want in ((SCHEMA, want_schema), (README, want_readme))
                 if not p.exists() or p.read_text(encoding="utf-8") != want]
        if stale:
            print(f"out of date: {', '.join(stale)}; run python -m tools.config_schema",
                  file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(want_schema, encoding="utf-8")
    README.write_text(want_readme, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
