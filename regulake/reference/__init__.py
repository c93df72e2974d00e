"""Reference tables shipped as data: GB/T 2260 regions and GB/T 4754-2017 industries.

One reader per table so normalisation, the GX expectations, the generator and
dbt seeds all see the same codes (see README.md beside this file).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent
REGIONS_CSV = REFERENCE_DIR / "regions.csv"
INDUSTRIES_CSV = REFERENCE_DIR / "industries.csv"
DEPARTMENTS_CSV = REFERENCE_DIR / "departments.csv"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province | prefecture | county
    parent_code: str | None


@dataclass(frozen=True)
class Industry:
    section: str
    division: str | None  # None on a section row
    name: str


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def load_regions() -> tuple[Region, ...]:
    """Every region row of regions.csv, in file order."""
    return tuple(
        Region(row["code"], row["name"], row["level"], row["parent_code"] or None) for row in _read(REGIONS_CSV)
    )


@cache
def load_industries() -> tuple[Industry, ...]:
    """Every section and division row of industries.csv, in file order."""
    return tuple(Industry(row["section"], row["division"] or None, row["name"]) for row in _read(INDUSTRIES_CSV))


@cache
def region_codes() -> frozenset[str]:
    """The valid 6-digit region codes."""
    return frozenset(region.code for region in load_regions())


@cache
def division_sections() -> dict[str, str]:
    """Two-digit division -> section letter, e.g. {"13": "C"}."""
    return {ind.division: ind.section for ind in load_industries() if ind.division}


@cache
def department_codes() -> dict[str, str]:
    """Department code -> two-digit number used in certificate numbers (standard §3), e.g. {"SCJG": "01"}."""
    return {row["code"]: row["no"] for row in _read(DEPARTMENTS_CSV)}


def regions_from_stdnum(province_prefix: str = "41") -> list[Region]:
    """Rebuild the region list from python-stdnum's GB/T 2260 table (how regions.csv was made)."""
    import stdnum

    path = os.path.join(os.path.dirname(stdnum.__file__), "cn", "loc.dat")
    regions: list[Region] = []
    province = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            head = re.match(r'^(\d\d) province="', line)
            if head:
                province = head.group(1)
                continue
            entry = re.match(r'^\s+(\d{4}) county="(.*)"', line)
            if province != province_prefix or not entry:
                continue
            code = province + entry.group(1)
            # Names carry their history: "[1987-2002]邙山区,[2003-]惠济区"; keep open-ended ones.
            latest = entry.group(2).split(",")[-1]
            span = re.match(r"^\[(\d*)-(\d*)\](.*)$", latest)
            if span and span.group(2):
                continue
            name = span.group(3) if span else latest
            if code == f"{province}9001":
                regions.append(Region(code, name, "prefecture", f"{province}0000"))
            elif code.endswith("01") or code == f"{province}9000":
                continue  # 市辖区 / 省直辖县级行政单位 placeholders
            elif code.endswith("0000"):
                regions.append(Region(code, name, "province", None))
            elif code.endswith("00"):
                regions.append(Region(code, name, "prefecture", f"{province}0000"))
            else:
                regions.append(Region(code, name, "county", code[:4] + "00"))
    return regions
