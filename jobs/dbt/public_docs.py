"""Generate the docs of the public BI views from the marts they select from.

Every public view (`dbt_project/models/public/pub_*.sql`) selects named columns of
gold marts, some of them masked. Its column descriptions are the marts' own
(models/marts/**/_*.yml), with a note on masked columns, so the BI docs never
drift from gold. Renders `models/public/_public__models.yml`: `make generate` rewrites it
after a public view or a mart's docs change; `make check-generated` fails when the
committed file is out of date (scripts/generate.py).

Each column also gets its `data_type` from schemas/public/views.yaml, the public contract dbt
enforces (scripts/public_contract.py writes it from a built lake).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from jobs.dbt.config import GENERATED_HEADER, MODELS_DIR
from regulake.config import PROJECT_ROOT

PUBLIC_DIR = MODELS_DIR / "public"
PUBLIC_DOCS = PUBLIC_DIR / "_public__models.yml"
HEADER = GENERATED_HEADER.format(script="jobs/dbt/public_docs.py",
                                 inputs="models/public/pub_*.sql, the marts' docs and schemas/public/views.yaml")
# The public contract: {model: {column: Spark type}} (scripts/public_contract.py).
CONTRACT = PROJECT_ROOT / "schemas" / "public" / "views.yaml"
CONTRACT_HEADER = ("# The public BI views' column types: the contract dbt enforces on models/public (contract: enforced).\n"
                   "# Written by scripts/public_contract.py from a built lake; change it on purpose and review the diff.\n")
MASK_NOTES = {
    "mask_name": "Masked: only the family name is kept (张*).",
    "mask_ric": "Masked: only the first and last 4 characters are kept (4101**********1234).",
}
_ALIAS = re.compile(r"config\(\s*alias\s*=\s*'(\w+)'\s*\)")
_REF = re.compile(r"ref\('(\w+)'\)")
_MASK = re.compile(r"(mask_\w+)\('(?:\w+\.)?(\w+)'\)")
_OUTPUT = re.compile(r"(?:\bas\s+|\.|^)(\w+)$")


def mart_docs() -> dict[str, dict[str, Any]]:
    """model -> {"description": ..., "columns": {name: description}} for every mart."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted((MODELS_DIR / "marts").rglob("_*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            docs[model["name"]] = {
                "description": " ".join(str(model.get("description", "")).split()),
                "columns": {c["name"]: c.get("description", "") for c in model.get("columns", [])},
            }
    return docs


def select_items(sql: str) -> list[str]:
    """The top-level select list of a public view (one item per line group, comma separated)."""
    body = sql[sql.index("\nselect\n") + len("\nselect\n"):]
    body = body[: re.search(r"\nfrom ", body).start()]
    return [item.strip() for item in re.split(r",\n", body) if item.strip()]


def view_alias(path: Path) -> str:
    """The name a public model is published under (its config(alias=...))."""
    alias = _ALIAS.search(path.read_text(encoding="utf-8"))
    if not alias:
        raise ValueError(f"{path.name}: a public view needs config(alias=...)")
    return alias.group(1)


def load_contract() -> dict[str, dict[str, str]]:
    if not CONTRACT.is_file():
        return {}
    return yaml.safe_load(CONTRACT.read_text(encoding="utf-8")) or {}


def describe_view(path: Path, marts: dict[str, dict[str, Any]], contract: dict[str, dict[str, str]]) -> dict[str, Any]:
    sql = path.read_text(encoding="utf-8")
    alias = _ALIAS.search(sql)
    refs = _REF.findall(sql)
    if not alias or not refs:
        raise ValueError(f"{path.name}: a public view needs config(alias=...) and a ref() to a mart")
    comment = " ".join(line.lstrip("- ").strip() for line in sql.splitlines() if line.startswith("--"))
    main = marts[refs[0]]
    columns = []
    for item in select_items(sql):
        output = _OUTPUT.search(item)
        if output is None:
            raise ValueError(f"{path.name}: cannot name the column of `{item}`")
        masked = _MASK.search(item)
        source_column = masked.group(2) if masked else output.group(1)
        description = next((marts[r]["columns"][source_column] for r in refs
                            if source_column in marts[r]["columns"]), None)
        if description is None:
            raise KeyError(f"{path.name}: no mart describes column {source_column}")
        if masked:
            description = f"{description} {MASK_NOTES[masked.group(1)]}"
            if item.startswith("case when is_natural_person"):
                description += " Only for natural persons; an enterprise's value is shown as delivered."
        data_type = contract.get(path.stem, {}).get(output.group(1))
        if data_type is None:
            raise KeyError(f"{path.name}: column {output.group(1)} has no type in {CONTRACT.relative_to(PROJECT_ROOT)} "
                           f"(build a lake, run scripts/public_contract.py --lake it, review the diff)")
        columns.append({"name": output.group(1), "data_type": data_type, "description": description})
    description = (f"BI view public.{alias.group(1)} (公共数据视图) over gold.{refs[0]}"
                   f"{' and ' + ', '.join('gold.' + r for r in refs[1:]) if refs[1:] else ''}. "
                   f"{comment + ' ' if comment else ''}{main['description']}")
    return {"name": path.stem, "description": description, "columns": columns}


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_public_docs() -> dict[Path, str]:
    marts = mart_docs()
    contract = load_contract()
    models = [describe_view(path, marts, contract) for path in sorted(PUBLIC_DIR.glob("pub_*.sql"))]
    text = yaml.dump({"version": 2, "models": models}, Dumper=_NoAliases, allow_unicode=True, sort_keys=False,
                     width=110)
    return {PUBLIC_DOCS: HEADER + text}
