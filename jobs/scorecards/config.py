"""The scorecard definition (conf/scorecards.yaml): indicators, weights, targets and bands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from regulake.config import StrictModel, check_conf, conf_file

CONF_NAME = "scorecards.yaml"
INDICATOR_CODES = (
    "inspection_coverage", "problem_found_rate", "targeting_lift", "rectification_rate", "rectification_days",
    "complaint_closure_hours", "complaint_satisfaction", "coop_feedback_on_time", "penalty_publicity",
)


@dataclass(frozen=True)
class ScorecardIndicator:
    code: str
    name: str
    name_en: str
    weight: float
    floor: float
    target: float


@dataclass(frozen=True)
class ScorecardConfig:
    version: str
    region_level: str
    periods: tuple[str, ...]
    min_observations: int
    bands: tuple[tuple[str, float], ...]  # (band, min), highest min first
    indicators: tuple[ScorecardIndicator, ...]
    raw: dict

    def option(self, key: str) -> Any:
        return self.raw[key]


class _IndicatorConf(StrictModel):
    code: str
    name: str
    name_en: str | None = None
    weight: float
    floor: float
    target: float


class _BandConf(StrictModel):
    band: str
    min: float


class _ScorecardFile(StrictModel):
    """The file's shape: an unknown key is an error naming file and key."""

    version: str
    region_level: str = "prefecture"
    periods: list[str] = Field(default_factory=lambda: ["month", "year"])
    min_observations: int = 1
    bands: list[_BandConf]
    random_task_types: list[str]
    high_risk_classes: list[str]
    rated_satisfaction: list[str]
    satisfied: list[str]
    indicators: list[_IndicatorConf]


def parse_config(raw: dict, path: Path | None = None) -> ScorecardConfig:
    check_conf(_ScorecardFile, raw, path or f"conf/{CONF_NAME}")
    indicators = tuple(
        ScorecardIndicator(str(i["code"]), str(i["name"]), str(i.get("name_en", i["code"])), float(i["weight"]),
                  float(i["floor"]), float(i["target"]))
        for i in raw["indicators"]
    )
    unknown = {i.code for i in indicators} - set(INDICATOR_CODES)
    if unknown:
        raise ValueError(f"conf/{CONF_NAME}: unknown indicators {sorted(unknown)} (known: {INDICATOR_CODES})")
    for indicator in indicators:
        if indicator.floor == indicator.target or indicator.weight < 0:
            raise ValueError(f"conf/{CONF_NAME}: {indicator.code} needs floor != target and a weight >= 0")
    periods = tuple(raw.get("periods", ["month", "year"]))
    if not set(periods) <= {"month", "year"}:
        raise ValueError(f"conf/{CONF_NAME}: periods must be month and/or year, not {periods}")
    level = str(raw.get("region_level", "prefecture"))
    if level not in {"county", "prefecture", "province"}:
        raise ValueError(f"conf/{CONF_NAME}: region_level must be county, prefecture or province")
    bands = tuple(sorted(((str(b["band"]), float(b["min"])) for b in raw["bands"]), key=lambda b: -b[1]))
    return ScorecardConfig(str(raw["version"]), level, periods, int(raw.get("min_observations", 1)), bands,
                           indicators, raw)


def load_config(path: Path | None = None) -> ScorecardConfig:
    path = path or conf_file(CONF_NAME)
    with open(path, encoding="utf-8") as handle:
        return parse_config(yaml.safe_load(handle), path)
