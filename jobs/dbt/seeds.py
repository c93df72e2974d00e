"""Write the dbt seeds from the reference data the rest of the pipeline uses.

`regulake/reference/` holds GB/T 2260 regions, GB/T 4754-2017 industries and the
department codes of standard §3; the normalisers validate silver against them,
so the dimensions must be built from exactly the same rows. This copies them to
`dbt_project/seeds/ref_*.csv` (departments get their English names from
conf/dbt.yaml). `make generate` rewrites them; `make check-generated` fails when a
committed seed differs from what would be written (scripts/generate.py).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from jobs.dbt.config import SEEDS_DIR, load_dbt_config
from regulake.reference import DEPARTMENTS_CSV, load_industries, load_regions


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def render_seeds() -> dict[Path, str]:
    """seed path -> CSV text."""
    regions = [[r.code, r.name, r.level, r.parent_code or ""] for r in load_regions()]
    industries = [[i.section, i.division or "", i.name] for i in load_industries()]
    names_en = load_dbt_config().department_names_en
    with open(DEPARTMENTS_CSV, encoding="utf-8", newline="") as handle:
        departments = [[row["code"], row["no"], row["name"], names_en[row["code"]]] for row in csv.DictReader(handle)]
    return {
        SEEDS_DIR / "ref_regions.csv": _csv(["code", "name", "level", "parent_code"], regions),
        SEEDS_DIR / "ref_industries.csv": _csv(["section", "division", "name"], industries),
        SEEDS_DIR / "ref_departments.csv": _csv(["code", "no", "name", "name_en"], departments),
    }
