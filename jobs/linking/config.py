"""conf/linking.yaml as typed objects: feed specs, blocking, decision and the model.

The model's comparison levels (labels, SQL) are conf/linking.yaml `model:`; the numbers
estimated for them (prior, m and u per level) are conf/linking_model.json, written by
`make train-linking` (synth/scoring/linking_train.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from jobs.linking.context import OWNER_NAME, TRADE_NAME, ContextRules
from regulake.config import StrictModel, check_conf, conf_file
from regulake.names import NamesSection

ID_KINDS = ("uscc", "org_code", "reg_no", "tax_id")
MATCH_METHODS = ("uscc", "org_code", "reg_no", "tax_id", "ric", "name_exact", "name_fuzzy", "none")
_INDUSTRY = re.compile(r"^[A-T](\d{2})?$")
MODEL_FILE = "linking_model.json"  # generated: the trained numbers of the model


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
    context: str | None = None


@dataclass(frozen=True)
class LinkingConfig:
    feeds: dict[str, FeedSpec]
    blocking_keys: tuple[str, ...]
    max_block: int
    min_probability: float
    min_margin_bits: float
    person_tie_break: tuple[str, ...]
    context: ContextRules
    model: dict[str, Any] = field(repr=False)
    path: Path | None = None
    model_path: Path | None = None


class _PersonConf(StrictModel):
    column: str
    values: list[str]


class _FeedConf(StrictModel):
    id_columns: list[str] = Field(default_factory=list)
    id_kinds: list[str] = Field(default_factory=list)
    name: str | None = None
    address: str | None = None
    region: str | None = None
    names_list: str | None = None
    court_region_from: str | None = None
    person: _PersonConf | None = None
    context: str | None = None


class _ContextConf(StrictModel):
    trade_name_chars: tuple[int, int]
    owner_types: list[str]
    scores: dict[str, float]
    industry_words: dict[str, list[str]]


class _BlockingConf(StrictModel):
    max_block: int
    keys: list[str]


class _DecisionConf(StrictModel):
    min_probability: float
    min_margin_bits: float
    person_tie_break: list[str] = Field(default_factory=list)


class _LinkingFile(StrictModel):
    """The file's shape: an unknown key is an error naming file and key."""

    feeds: dict[str, _FeedConf | None]
    names: NamesSection
    blocking: _BlockingConf
    decision: _DecisionConf
    context: _ContextConf
    model: Any = None  # free-form here: checked against the trained model by _trained_model


def _feed_spec(feed_id: str, raw: dict[str, Any]) -> FeedSpec:
    unknown = set(raw) - {"id_columns", "id_kinds", "name", "address", "region", "names_list",
                          "court_region_from", "person", "context"}
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
        context=raw.get("context"),
    )


def _context_rules(raw: dict[str, Any]) -> ContextRules:
    unknown = set(raw["scores"]) ^ {TRADE_NAME, OWNER_NAME}
    if unknown:
        raise ValueError(f"conf/linking.yaml context.scores: one score for each of {TRADE_NAME}, {OWNER_NAME}")
    bad = {w: c for w, c in raw["industry_words"].items() if not all(_INDUSTRY.match(x) for x in c)}
    if bad:
        raise ValueError(f"conf/linking.yaml context.industry_words: codes must be a GB/T 4754 section (H) or "
                         f"section + division (H62): {bad}")
    return ContextRules(
        trade_name_chars=(int(raw["trade_name_chars"][0]), int(raw["trade_name_chars"][1])),
        owner_types=tuple(raw["owner_types"]),
        industry_words={w: tuple(c) for w, c in raw["industry_words"].items()},
        scores={k: float(v) for k, v in raw["scores"].items()},
    )


def _trained_model(levels: dict[str, Any], model_path: Path) -> dict[str, Any]:
    """The Splink model: conf/linking.yaml `model:` (comparison levels) with the prior and each
    non-null level's m and u from the trained model file (matched by comparison and label)."""
    with open(model_path, encoding="utf-8") as handle:
        trained = json.load(handle)
    numbers = trained["comparisons"]
    comparisons = []
    for comp in levels["comparisons"]:
        name = comp["output_column_name"]
        estimated = dict(numbers.get(name, {}))
        merged = []
        for level in comp["comparison_levels"]:
            if "m" in level or "u" in level:
                raise ValueError(f"conf/linking.yaml model.{name} '{level['label']}': m and u belong in "
                                 f"{model_path.name} (make train-linking)")
            if not level.get("is_null_level"):
                if level["label"] not in estimated:
                    raise ValueError(f"{model_path}: no m/u for model.{name} '{level['label']}': "
                                     "retrain (make train-linking)")
                level = {**level, **estimated.pop(level["label"])}
            merged.append(level)
        if estimated:
            raise ValueError(f"{model_path}: levels {sorted(estimated)} of {name} are not in conf/linking.yaml: "
                             "retrain (make train-linking)")
        comparisons.append({**comp, "comparison_levels": merged})
    unknown = set(numbers) - {c["output_column_name"] for c in levels["comparisons"]}
    if unknown:
        raise ValueError(f"{model_path}: comparisons {sorted(unknown)} are not in conf/linking.yaml: retrain "
                         "(make train-linking)")
    if "probability_two_random_records_match" in levels:
        raise ValueError(f"conf/linking.yaml model: the prior belongs in {model_path.name} (make train-linking)")
    return {"probability_two_random_records_match": trained["probability_two_random_records_match"],
            **levels, "comparisons": comparisons}


def load_linking_config(path: Path | str | None = None, model_path: Path | str | None = None) -> LinkingConfig:
    """Read and check conf/linking.yaml and the trained model (not cached: `train` rewrites the model)."""
    path = Path(path) if path else conf_file("linking.yaml")
    model_path = Path(model_path) if model_path else conf_file(MODEL_FILE)
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    check_conf(_LinkingFile, raw, path)
    decision = raw["decision"]
    return LinkingConfig(
        feeds={feed_id: _feed_spec(feed_id, spec or {}) for feed_id, spec in raw["feeds"].items()},
        blocking_keys=tuple(raw["blocking"]["keys"]),
        max_block=int(raw["blocking"]["max_block"]),
        min_probability=float(decision["min_probability"]),
        min_margin_bits=float(decision["min_margin_bits"]),
        person_tie_break=tuple(decision.get("person_tie_break", ())),
        context=_context_rules(raw["context"]),
        model=_trained_model(raw["model"], model_path),
        path=path,
        model_path=model_path,
    )
