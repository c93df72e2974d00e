"""One configuration loader for every entry point.

Settings come from `conf/regulake.yaml` (or the file named by REGULAKE_CONFIG),
then environment overrides `REGULAKE__SECTION__KEY=value`, then explicit
overrides passed by a caller (the CLI's `--lake`, a test's tmp_path).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
JARS_DIR = PROJECT_ROOT / ".jars"
ENV_PREFIX = "REGULAKE__"


@cache
def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def conf_file(name: str) -> Path:
    """A versioned configuration file under conf/ (thresholds, weights, ratios ...)."""
    return CONF_DIR / name


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_overrides(environ: dict[str, str]) -> dict:
    """REGULAKE__SPARK__CONF__spark.driver.memory=8g -> {"spark": {"conf": {...}}}."""
    overrides: dict = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].split("__")
        # Section names are lower-case; Spark conf keys keep their case.
        path = [part.lower() if i < 2 else part for i, part in enumerate(path)]
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else ""
    return overrides


@dataclass(frozen=True)
class Settings:
    """Resolved settings. `lake_root` is absolute for local paths, a URI otherwise."""

    raw: dict = field(repr=False)

    @property
    def lake_root(self) -> str:
        root = str(self.raw["lake"]["root"])
        if "://" in root:
            return root.rstrip("/")
        return str(Path(root).expanduser().resolve())

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_root or self.lake_root.startswith("file://")

    @property
    def layers(self) -> list[str]:
        return list(self.raw["lake"]["layers"])

    @property
    def spark(self) -> dict:
        return self.raw["spark"]

    @property
    def airflow_home(self) -> Path:
        home = Path(str(self.raw["airflow"]["home"])).expanduser()
        return home if home.is_absolute() else PROJECT_ROOT / home

    def table_path(self, layer: str, table: str) -> str:
        """Where a table's Delta files live: <lake_root>/<layer>/<table> (standard §5)."""
        return f"{self.lake_root}/{layer}/{table}"

    def section(self, name: str) -> Any:
        return self.raw.get(name, {})

    def with_overrides(self, **overrides: Any) -> Settings:
        """Dotted keys: with_overrides(**{"lake.root": "/tmp/lake"})."""
        nested: dict = {}
        for dotted, value in overrides.items():
            node = nested
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return Settings(_deep_merge(self.raw, nested))


def load_settings(lake_root: str | os.PathLike | None = None, environ: dict | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    path = Path(environ.get("REGULAKE_CONFIG") or CONF_DIR / "regulake.yaml")
    raw = _deep_merge(load_yaml(path), _env_overrides(environ))
    settings = Settings(raw)
    if lake_root is not None:
        settings = settings.with_overrides(**{"lake.root": str(lake_root)})
    return settings
