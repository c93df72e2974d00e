"""conf/risk.yaml as typed objects: indicators, bands, vetoes, warnings and sampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from regulake.config import StrictModel, check_conf, conf_file

CLASSES = ("A", "B", "C", "D")
SCALE_KINDS = ("flag", "linear", "steps")


@dataclass(frozen=True)
class RiskIndicator:
    """A third-level indicator: how its raw value is measured and turned into points."""

    code: str
    name: str
    category: str
    group: str
    group_name: str
    measure: str
    points: float
    scale: Any
    params: dict = field(default_factory=dict)
    missing: float = 0.0


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str
    max_points: float
    indicators: tuple[RiskIndicator, ...]


@dataclass(frozen=True)
class VetoRule:
    code: str
    reason: str
    force_class: str
    rule: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSettings:
    """The learned scorecard (docs/RISK.md, "Learning the weights"): what it is fitted on and when."""

    method: str                       # learned | hand
    version: str                      # a fitted model is `<version>.<YYYY-MM>` (its refit month)
    refit: str                        # monthly
    training_window_days: int
    random_task_types: tuple[str, ...]
    min_events: int
    min_iv: float
    target_shares: dict[str, float]   # per scored class (vetoes raise enterprises on top)


@dataclass(frozen=True)
class RiskConfig:
    version: str
    max_score: float
    explanation_top: int
    bands: tuple[tuple[str, float], ...]
    model: ModelSettings
    categories: tuple[Category, ...]
    vetoes: tuple[VetoRule, ...]
    warnings: tuple[dict, ...]
    sampling: dict
    path: Path | None = None

    @property
    def indicators(self) -> tuple[RiskIndicator, ...]:
        return tuple(ind for cat in self.categories for ind in cat.indicators)

    def warning(self, code: str) -> dict | None:
        return next((w for w in self.warnings if w["code"] == code), None)

    def seed_for(self, as_of: date) -> int:
        """The sampling seed of an as-of run (recorded on every plan row)."""
        return int(self.sampling.get("seed_base", 0)) * 10**8 + int(as_of.strftime("%Y%m%d"))


# --- The file's shape: unknown keys are errors naming file and key -------------------


class _IndicatorConf(StrictModel):
    code: str
    name: str
    measure: str
    points: float
    scale: Any
    params: dict[str, Any] | None = None
    missing: float = 0.0


class _GroupConf(StrictModel):
    code: str
    name: str
    indicators: list[_IndicatorConf]


class _CategoryConf(StrictModel):
    code: str
    name: str
    name_en: str = ""
    max_points: float | None = None
    groups: list[_GroupConf]


class _ScoreConf(StrictModel):
    max: float
    explanation_top: int = 3


class _BandConf(StrictModel):
    class_: str = Field(alias="class")
    min: float


class _VetoConf(StrictModel):
    code: str
    reason: str
    force_class: str
    rule: str
    params: dict[str, Any] | None = None


class _WarningConf(StrictModel):
    code: Literal["new_veto", "class_jump", "complaint_surge"]
    level: str
    reason: str
    min_steps: int | None = None                      # class_jump
    window_days: int | None = None                    # complaint_surge
    baseline_days: int | None = None
    min_count: int | None = None
    min_ratio: float | None = None


class _SamplingConf(StrictModel):
    ratios: dict[str, float]
    inspectors_per_inspection: int = 2
    matter_method: str = "双随机"
    matter_object_type: str = "法人"
    departments: list[str] = Field(default_factory=list)
    stratify_region_level: str = "prefecture"
    officer_scopes: list[str] = Field(default_factory=lambda: ["prefecture", "province"])
    seed_base: int = 0


class _ModelConf(StrictModel):
    method: Literal["learned", "hand"] = "learned"
    version: str
    refit: Literal["monthly"] = "monthly"
    training_window_days: int = Field(gt=0)
    random_task_types: list[str]
    min_events: int = Field(gt=0)
    min_iv: float = 0.02
    target_shares: dict[str, float]


class _RiskFile(StrictModel):
    version: str
    score: _ScoreConf
    bands: list[_BandConf]
    model: _ModelConf
    categories: list[_CategoryConf]
    vetoes: list[_VetoConf] = Field(default_factory=list)
    warnings: list[_WarningConf] = Field(default_factory=list)
    sampling: _SamplingConf


def _check_scale(code: str, scale: Any) -> None:
    kind = scale if isinstance(scale, str) else next(iter(scale), None)
    if kind not in SCALE_KINDS:
        raise ValueError(f"conf/risk.yaml indicator {code}: scale must be one of {SCALE_KINDS}")
    if kind == "steps":
        mins = [step[0] for step in scale["steps"]]
        if mins != sorted(mins):
            raise ValueError(f"conf/risk.yaml indicator {code}: steps must ascend")


def parse_config(raw: dict, path: Path | None = None) -> RiskConfig:
    from jobs.risk.indicators import MEASURES

    check_conf(_RiskFile, raw, path or "conf/risk.yaml")
    categories = []
    seen: set[str] = set()
    for cat in raw["categories"]:
        indicators = []
        for group in cat["groups"]:
            for ind in group["indicators"]:
                if ind["code"] in seen:
                    raise ValueError(f"conf/risk.yaml: indicator {ind['code']} defined twice")
                seen.add(ind["code"])
                if ind["measure"] not in MEASURES:
                    raise ValueError(f"conf/risk.yaml indicator {ind['code']}: unknown measure {ind['measure']}")
                _check_scale(ind["code"], ind["scale"])
                indicators.append(RiskIndicator(
                    code=ind["code"], name=ind["name"], category=cat["code"], group=group["code"],
                    group_name=group["name"], measure=ind["measure"], points=float(ind["points"]),
                    scale=ind["scale"], params=dict(ind.get("params") or {}),
                    missing=float(ind.get("missing", 0.0)),
                ))
        max_points = float(cat.get("max_points", sum(i.points for i in indicators)))
        categories.append(Category(cat["code"], cat["name"], cat.get("name_en", ""), max_points, tuple(indicators)))
    bands = tuple((b["class"], float(b["min"])) for b in raw["bands"])
    if [b[0] for b in bands] != list(CLASSES) or [b[1] for b in bands] != sorted(b[1] for b in bands):
        raise ValueError("conf/risk.yaml bands: classes A-D with ascending minimums")
    vetoes = tuple(VetoRule(v["code"], v["reason"], v["force_class"], v["rule"], dict(v.get("params") or {}))
                   for v in raw.get("vetoes", []))
    model = raw["model"]
    shares = {k: float(v) for k, v in model["target_shares"].items()}
    if set(shares) != set(CLASSES) or abs(sum(shares.values()) - 1) > 1e-6 or min(shares.values()) < 0:
        raise ValueError("conf/risk.yaml model.target_shares: a share for each class A-D, summing to 1")
    ratios = raw["sampling"]["ratios"]
    if set(ratios) != set(CLASSES) or not all(0 <= float(r) <= 1 for r in ratios.values()):
        raise ValueError("conf/risk.yaml sampling.ratios: a ratio in [0, 1] for each class A-D")
    return RiskConfig(
        version=str(raw["version"]),
        max_score=float(raw["score"]["max"]),
        explanation_top=int(raw["score"].get("explanation_top", 3)),
        bands=bands,
        model=ModelSettings(
            method=model.get("method", "learned"), version=str(model["version"]), refit=model.get("refit", "monthly"),
            training_window_days=int(model["training_window_days"]),
            random_task_types=tuple(model["random_task_types"]), min_events=int(model["min_events"]),
            min_iv=float(model.get("min_iv", 0.02)), target_shares=shares,
        ),
        categories=tuple(categories),
        vetoes=vetoes,
        warnings=tuple(raw.get("warnings", [])),
        sampling=dict(raw["sampling"]),
        path=path,
    )


def load_risk_config(path: Path | None = None) -> RiskConfig:
    path = path or conf_file("risk.yaml")
    with open(path, encoding="utf-8") as handle:
        return parse_config(yaml.safe_load(handle), path)
