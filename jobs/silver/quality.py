"""Per-feed quality settings of silver, read from the versioned `conf/quality.yaml`."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from regulake.config import ConfigError, StrictModel, check_conf, conf_file, display_path, load_yaml
from regulake.feeds import FeedSchema, feed_ids
from regulake.normalize import IDENTIFIER_KINDS

OUTLIER_TYPES = ("amount", "int")


@dataclass(frozen=True)
class OutlierRule:
    """Log-scale z-score rule for one feed (see conf/quality.yaml)."""

    z: float
    min_count: int
    columns: tuple[str, ...]  # aliases the rule applies to


@dataclass(frozen=True)
class FeedQuality:
    """Gate thresholds and record rules of one feed."""

    feed_id: str
    max_quarantine_share: float
    quarantine_allowance: int
    max_flagged_share: float
    strict_check_digit: frozenset[str]
    outliers: OutlierRule
    min_full_volume_ratio: float = 0.5

    def min_full_rows(self, previous_rows: int) -> int:
        """Fewest records a full delivery may hold after a full delivery of `previous_rows`."""
        return math.ceil(self.min_full_volume_ratio * previous_rows)

    def quarantine_tolerance(self, rows: int) -> float:
        """Share of a delivery of `rows` records that may be quarantined."""
        return _tolerance(self.max_quarantine_share, self.quarantine_allowance, rows)

    def flagged_tolerance(self, rows: int) -> float:
        """Share of one column's values that may be nulled or flagged."""
        return _tolerance(self.max_flagged_share, self.quarantine_allowance, rows)


@dataclass(frozen=True)
class GxSettings:
    partial_unexpected_count: int
    failing_records_sample: int
    data_docs_dir: str


def _tolerance(share: float, allowance: int, rows: int) -> float:
    if rows <= 0:
        return 1.0
    return min(1.0, max(share, allowance / rows))


def _merge(base: dict, extra: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _OutliersConf(StrictModel):
    z: float | None = None
    min_count: int | None = None
    columns: Literal["auto"] | list[str] | None = None
    exclude: list[str] | None = None


class _FeedQualityConf(StrictModel):
    """`defaults` and each `feeds.<feed_id>`: every key optional (a feed overrides single keys)."""

    max_quarantine_share: float | None = None
    quarantine_allowance: int | None = None
    max_flagged_share: float | None = None
    min_full_volume_ratio: float | None = None
    strict_check_digit: list[str] | None = None
    outliers: _OutliersConf | None = None


class _GxConf(StrictModel):
    partial_unexpected_count: int = 5
    failing_records_sample: int = 5
    data_docs_dir: str = "_data_docs"


class _QualityFile(StrictModel):
    """The file's shape: an unknown key is an error naming file and key."""

    defaults: _FeedQualityConf | None = None
    feeds: dict[str, _FeedQualityConf | None] | None = None
    gx: _GxConf | None = None


@cache
def _checked(path: Path) -> dict[str, Any]:
    raw = load_yaml(path)
    check_conf(_QualityFile, raw, path)
    unknown = sorted(set((raw or {}).get("feeds") or {}) - set(feed_ids()))
    if unknown:
        raise ConfigError(f"invalid configuration:\n  {display_path(path)}: unknown feeds {unknown} under 'feeds' "
                          f"(no schemas/<feed_id>.yaml)")
    return raw


def _raw(path: Path | None) -> dict[str, Any]:
    return _checked(Path(path) if path else conf_file("quality.yaml"))


def identifier_key_aliases(schema: FeedSchema) -> frozenset[str]:
    """Business-key columns that hold an identifier: failing its check is `invalid_key` (standard v1.1 §2)."""
    return frozenset(schema.column(name).alias for name in schema.key
                     if schema.column(name).type in IDENTIFIER_KINDS)


def feed_quality(schema: FeedSchema, path: Path | None = None) -> FeedQuality:
    """The quality settings of a feed: defaults, then the feed's overrides."""
    raw = _raw(path)
    merged = _merge(raw.get("defaults") or {}, (raw.get("feeds") or {}).get(schema.feed_id) or {})
    aliases = {c.alias for c in schema.columns}
    configured = frozenset(merged.get("strict_check_digit") or ())
    if not configured <= aliases:
        raise ValueError(f"conf/quality.yaml: {schema.feed_id}.strict_check_digit names unknown columns "
                         f"{sorted(configured - aliases)}")
    strict = configured | identifier_key_aliases(schema)
    rule = merged.get("outliers") or {}
    columns = rule.get("columns", "auto")
    if columns == "auto":
        columns = [c.alias for c in schema.columns if c.type in OUTLIER_TYPES]
    excluded = set(rule.get("exclude") or ())
    columns = tuple(c for c in columns if c not in excluded)
    if not set(columns) <= aliases:
        raise ValueError(f"conf/quality.yaml: {schema.feed_id}.outliers names unknown columns")
    return FeedQuality(
        feed_id=schema.feed_id,
        max_quarantine_share=float(merged["max_quarantine_share"]),
        quarantine_allowance=int(merged.get("quarantine_allowance", 0)),
        max_flagged_share=float(merged["max_flagged_share"]),
        strict_check_digit=strict,
        outliers=OutlierRule(z=float(rule.get("z", 3.0)), min_count=int(rule.get("min_count", 30)),
                             columns=columns),
        min_full_volume_ratio=float(merged.get("min_full_volume_ratio", 0.5)),
    )


def gx_settings(path: Path | None = None) -> GxSettings:
    raw = _raw(path).get("gx") or {}
    return GxSettings(
        partial_unexpected_count=int(raw.get("partial_unexpected_count", 5)),
        failing_records_sample=int(raw.get("failing_records_sample", 5)),
        data_docs_dir=str(raw.get("data_docs_dir", "_data_docs")),
    )
