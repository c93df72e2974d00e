"""conf/linking.yaml as typed objects: feed specs, blocking, decision and the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regulake.config import conf_file

ID_KINDS = ("uscc", "org_code", "reg_no", "tax_id")
MATCH_METHODS = ("uscc", "org_code", "reg_no", "tax_id", "ric", "name_exact", "name_fuzzy", "none")


@dataclass(frozen=True)
class FeedSpec:
    """How one silver feed's records refer to a business (see conf/linking.yaml `feeds:`)."""

    feed_id: str
    id_columns: tuple[str, ...] = ()
    id_kinds: tuple[str, ...] = ()
    name: str | None = None
    address: str | None = None
    region: str | None = None
    names_list: str | None = None
    court_region_from: str | None = None
    person_column: str | None = None
    person_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkingConfig:
    feeds: dict[str, FeedSpec]
    blocking_keys: tuple[str, ...]
    max_block: int
    min_probability: float
    min_margin_bits: float
    person_tie_break: tuple[str, ...]
    model: dict[str, Any] = field(repr=False)
    path: Path | None = None


def _feed_spec(feed_id: str, raw: dict[str, Any]) -> FeedSpec:
    unknown = set(raw) - {"id_columns", "id_kinds", "name", "address", "region", "names_list",
                          "court_region_from", "person"}
    if unknown:
        raise ValueError(f"conf/linking.yaml feeds.{feed_id}: unknown keys {sorted(unknown)}")
    kinds = tuple(raw.get("id_kinds", ()))
    if set(kinds) - set(ID_KINDS):
        raise ValueError(f"conf/linking.yaml feeds.{feed_id}: id_kinds must be among {ID_KINDS}")
    person = raw.get("person") or {}
    return FeedSpec(
        feed_id=feed_id,
        id_columns=tuple(raw.get("id_columns", ())),
        id_kinds=kinds,
        name=raw.get("name"),
        address=raw.get("address"),
        region=raw.get("region"),
        names_list=raw.get("names_list"),
        court_region_from=raw.get("court_region_from"),
        person_column=person.get("column"),
        person_values=tuple(str(v) for v in person.get("values", ())),
    )


def load_linking_config(path: Path | str | None = None) -> LinkingConfig:
    """Read and check conf/linking.yaml (not cached: `train` rewrites the model section)."""
    path = Path(path) if path else conf_file("linking.yaml")
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    decision = raw["decision"]
    return LinkingConfig(
        feeds={feed_id: _feed_spec(feed_id, spec or {}) for feed_id, spec in raw["feeds"].items()},
        blocking_keys=tuple(raw["blocking"]["keys"]),
        max_block=int(raw["blocking"]["max_block"]),
        min_probability=float(decision["min_probability"]),
        min_margin_bits=float(decision["min_margin_bits"]),
        person_tie_break=tuple(decision.get("person_tie_break", ())),
        model=raw["model"],
        path=path,
    )
