"""Landing limits (conf/landing.yaml): batch-date skew, manifest size, record length."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from regulake.config import StrictModel, check_conf, conf_file, load_yaml

CONF_NAME = "landing.yaml"


class _LandingFile(StrictModel):
    """The file's shape: an unknown key is an error naming file and key."""

    batch_date_max_future_days: int = 1
    max_manifest_bytes: int = 16 << 20
    max_record_bytes: int = 16 << 20
    max_record_lines: int = 10_000
    raw_record_max_bytes: int = 64 << 10
    max_xlsx_uncompressed_bytes: int = 1 << 30
    max_xlsx_compression_ratio: int = 100


@dataclass(frozen=True)
class LandingLimits:
    batch_date_max_future_days: int = 1
    max_manifest_bytes: int = 16 << 20
    max_record_bytes: int = 16 << 20
    max_record_lines: int = 10_000
    raw_record_max_bytes: int = 64 << 10
    max_xlsx_uncompressed_bytes: int = 1 << 30
    max_xlsx_compression_ratio: int = 100


@cache
def _load(path: Path) -> LandingLimits:
    conf = check_conf(_LandingFile, load_yaml(path), path)
    limits = LandingLimits(**conf.model_dump())
    if min(limits.max_manifest_bytes, limits.max_record_bytes, limits.max_record_lines,
           limits.raw_record_max_bytes, limits.max_xlsx_uncompressed_bytes, limits.max_xlsx_compression_ratio) <= 0 or limits.batch_date_max_future_days < 0:
        raise ValueError(f"{path}: limits must be positive")
    return limits


def landing_limits(path: Path | None = None) -> LandingLimits:
    """The limits of conf/landing.yaml (defaults for keys it does not set)."""
    return _load(Path(path) if path else conf_file(CONF_NAME))
