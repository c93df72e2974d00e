"""One configuration loader for every entry point.

Settings come from `conf/regulake.yaml` (or the file named by REGULAKE_CONFIG),
then environment overrides `REGULAKE__SECTION__KEY=value`, then explicit
overrides passed by a caller (the CLI's `--lake`, a test's tmp_path). The result
is checked against typed models (`RegulakeConfig`): an unknown key, in the file or
in a misspelt `REGULAKE__...` variable, is a `ConfigError` naming the key and
where it came from. `spark.conf` stays a free-form mapping of Spark keys.

Every file under conf/ can be swapped per deployment: when REGULAKE_CONF_DIR
names a folder, `conf_file(name)` returns the file of that name in it, and falls
back to conf/<name> for the files the folder does not hold.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
JARS_DIR = PROJECT_ROOT / ".jars"
ENV_PREFIX = "REGULAKE__"
CONF_DIR_ENV = "REGULAKE_CONF_DIR"
CONFIG_ENV = "REGULAKE_CONFIG"

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or override that does not fit its schema."""


@cache
def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def conf_file(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """A versioned configuration file (thresholds, weights, ratios ...): <REGULAKE_CONF_DIR>/<name>
    when that variable names a folder holding it, else conf/<name>."""
    environ = os.environ if environ is None else environ
    folder = environ.get(CONF_DIR_ENV)
    if folder:
        folder_path = Path(folder).expanduser()
        if not folder_path.is_dir():
            raise ConfigError(f"{CONF_DIR_ENV}={folder}: not a directory")
        candidate = folder_path / name
        if candidate.is_file():
            return candidate.resolve()
    return CONF_DIR / name


def display_path(path: str | os.PathLike) -> str:
    """A path as error messages show it: relative to the project when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# --- Checking a configuration against its model ------------------------------------


class StrictModel(BaseModel):
    """A configuration section: unknown keys are errors, numbers are accepted for strings."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def _loc(parts: tuple) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _origin(loc: tuple, origins: Mapping[tuple, str], default: str) -> str:
    """Where the value at `loc` came from: the override that set it or a parent of it, else
    the overrides under it (REGULAKE__NOPE__KEY makes the unknown key `nope`), else `default`."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    below = sorted({where for path, where in origins.items() if loc and path[:len(loc)] == loc})
    return ", ".join(below) or default


def check_conf(model: type[M], data: Any, source: str | os.PathLike,
               origins: Mapping[tuple, str] | None = None) -> M:
    """`data` validated as `model`, or a ConfigError naming each bad key and where it came from
    (`source`, or the entry of `origins` for the longest prefix of the key's path)."""
    default = display_path(source) if isinstance(source, Path) else str(source)
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            loc = tuple(problem["loc"])
            where = _origin(loc, origins or {}, default)
            if problem["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown key {_loc(loc)!r}")
            elif problem["type"] == "missing":
                lines.append(f"{where}: missing key {_loc(loc)!r}")
            else:
                got = repr(problem.get("input"))
                got = got if len(got) <= 80 else got[:77] + "..."
                lines.append(f"{where}: {_loc(loc)}: {problem['msg']} (got {got})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


# --- conf/regulake.yaml ----------------------------------------------------------


class LakeConfig(StrictModel):
    root: str
    layers: list[str]


class SparkConfig(StrictModel):
    master: str
    app_name: str = "regulake"
    # local: the Delta (and extra) jars `make setup` put in .jars/; packages: Spark fetches them.
    jar_source: Literal["local", "packages"] = "local"
    extra_packages: list[str] = Field(default_factory=list)
    conf: dict[str, Any] = Field(default_factory=dict)  # free-form Spark keys
    # sc://host:port of a Spark Connect server (`regulake connect-server`): when set, every
    # process (an Airflow task, the CLI) is a thin client of that one long-running driver.
    remote: str | None = None

    @field_validator("extra_packages", "conf", mode="before")
    @classmethod
    def _empty(cls, value: Any, info) -> Any:
        if value is None:
            return [] if info.field_name == "extra_packages" else {}
        return value


class AirflowConfig(StrictModel):
    home: str


class ServeTlsConfig(StrictModel):
    # A Java keystore (JKS or PKCS12) with the server's certificate; its password from the
    # variable named here, never from a file in the repository.
    keystore: str
    keystore_password_env: str = "REGULAKE_SERVE_KEYSTORE_PASSWORD"


class ServeConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = 10000
    # The endpoint's users (`regulake users add`): salted PBKDF2 hashes and roles, mode 0600.
    users_file: str = ".secrets/endpoint-users"
    # role -> the db.table patterns (glob) it may read; a persisted view is granted as itself.
    roles: dict[str, list[str]] = Field(default_factory=lambda: {"steward": ["*"], "analyst": ["public.*"]})
    # Conf keys a client may change with SET (everything else is the server's).
    settable: list[str] = Field(default_factory=lambda: ["spark.sql.session.timezone"])
    # A statement running longer is cancelled; a result larger than this many bytes fails.
    query_timeout_seconds: int = Field(300, ge=1)
    max_result_bytes: str = "256m"
    # Seconds between two appends of the query log to audit.query_log.
    query_log_flush_seconds: float = Field(5, gt=0)
    tls: ServeTlsConfig | None = None


class PipelineConfig(StrictModel):
    landing_root: str = "landing"
    # The main DAG's timetable; null: only triggered runs (a test cluster, a center that triggers by hand).
    schedule: str | None = "@daily"
    # The lake's run lease (regulake/lease.py): a lease whose heartbeat is older than this is stale.
    lease_ttl_seconds: float = Field(900, ge=10)
    # How long a run waits for another run's lease before failing; 0: fail at once.
    lease_wait_seconds: float = Field(0, ge=0)


class LineageConfig(StrictModel):
    """`lineage:` — OpenLineage events (regulake/lineage.py, docs/LINEAGE.md)."""

    enabled: bool = True
    # The OpenLineage namespace of regulake's jobs (Airflow tasks, stages, dbt models, Spark queries).
    namespace: str = "regulake"
    # The openlineage-spark listener in every pipeline session (one event pair per Spark query).
    spark_listener: bool = True
    # An OpenLineage HTTP endpoint (e.g. Marquez, http://host:5000) that gets every event as well as the
    # lake's files; null: files only.
    http_url: str | None = None
    http_endpoint: str = "api/v1/lineage"


class MaintenanceConfig(StrictModel):
    """`maintenance:` — the weekly Delta table maintenance (jobs/maintenance, dags/regulake_maintenance.py)."""

    layers: list[str] = Field(default_factory=lambda: ["bronze", "silver", "gold", "audit"])
    # Time travel kept for the audit window: VACUUM never deletes a file removed less than this long
    # ago. 168 h (Delta's own default of 7 days) is the floor.
    vacuum_retain_hours: int = Field(720, ge=168)
    # How long the transaction log keeps old versions; at least vacuum_retain_hours.
    log_retention_hours: int = 720
    # "layer.table": [columns] to OPTIMIZE ... ZORDER BY; every other table is only bin-packed.
    zorder: dict[str, list[str]] = Field(default_factory=dict)
    # Extra Delta table properties set on every table (retention properties are derived from the hours).
    table_properties: dict[str, str] = Field(default_factory=dict)
    # Recompute Delta's per-file statistics (data skipping) for files written without them.
    compute_stats: bool = True
    conflict_retries: int = Field(3, ge=0)
    conflict_backoff_seconds: float = Field(30.0, ge=0)
    # Tasks VACUUM uses to list a table's folders (Spark's default, 10,000, is for huge tables).
    vacuum_listing_parallelism: int = Field(8, ge=1)
    # Record VACUUM START/END commits in each table's history (a new version per table per run).
    log_vacuum: bool = False

    @field_validator("table_properties", mode="before")
    @classmethod
    def _lower_bools(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else v for k, v in value.items()}
        return {} if value is None else value

    @field_validator("zorder", mode="before")
    @classmethod
    def _no_zorder(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("table_properties")
    @classmethod
    def _delta_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("delta."):
                raise ValueError(f"{key!r} is not a Delta table property (delta.*)")
            if key in ("delta.logRetentionDuration", "delta.deletedFileRetentionDuration"):
                raise ValueError(f"{key} is derived from log_retention_hours / vacuum_retain_hours; set those")
        return value

    @model_validator(mode="after")
    def _log_outlives_files(self) -> MaintenanceConfig:
        if self.log_retention_hours < self.vacuum_retain_hours:
            raise ValueError(f"log_retention_hours ({self.log_retention_hours}) must be at least "
                             f"vacuum_retain_hours ({self.vacuum_retain_hours}), or time travel breaks first")
        return self


class MetastoreConfig(StrictModel):
    """`metastore:` — the Hive metastore database used when `catalog: hive_metastore`."""

    url: str | None = None  # jdbc:postgresql://host:port/database
    user: str | None = None
    # The environment variable holding the password (never in a file under version control).
    password_env: str = "REGULAKE_METASTORE_PASSWORD"


class RegulakeConfig(StrictModel):
    lake: LakeConfig
    # lake_path: every process fills Spark's in-memory catalog from the lake's own folders (no
    # metastore; the embedded default). hive_metastore: Spark's Hive client keeps the tables and
    # the `public` views in a metastore database (`metastore:`, schema created once by
    # `python -m regulake.metastore`), which every Spark process, the stock Thrift server and
    # other engines share.
    catalog: Literal["lake_path", "hive_metastore"] = "lake_path"
    metastore: MetastoreConfig = Field(default_factory=MetastoreConfig)
    spark: SparkConfig
    airflow: AirflowConfig
    serve: ServeConfig = Field(default_factory=ServeConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)
    lineage: LineageConfig = Field(default_factory=LineageConfig)


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict, dict[tuple, str]]:
    """REGULAKE__SPARK__CONF__spark.driver.memory=8g -> {"spark": {"conf": {...}}}, and the
    variable each override path came from."""
    overrides: dict = {}
    origins: dict[tuple, str] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].split("__")
        # Section names are lower-case; Spark conf keys keep their case.
        path = [part.lower() if i < 2 else part for i, part in enumerate(path)]
        node = overrides
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # REGULAKE__SPARK=x and REGULAKE__SPARK__MASTER=y
                child = node[part] = {}
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else ""
        origins[tuple(path)] = f"environment variable {name}"
    return overrides, origins


@dataclass(frozen=True)
class Settings:
    """Resolved settings. `lake_root` is absolute for local paths, a URI otherwise.

    `raw` is the checked configuration as plain dicts (defaults filled in); `config`
    the same as typed models. `origins` says where overridden keys came from.
    """

    raw: dict = field(repr=False)
    origins: Mapping[tuple, str] = field(default_factory=dict, repr=False, compare=False)
    source: str = field(default="settings", repr=False, compare=False)
    config: RegulakeConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        config = check_conf(RegulakeConfig, self.raw, self.source, self.origins)
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "raw", config.model_dump())

    @property
    def lake_root(self) -> str:
        root = self.config.lake.root
        if "://" in root:
            return root.rstrip("/")
        return str(Path(root).expanduser().resolve())

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_root or self.lake_root.startswith("file://")

    @property
    def layers(self) -> list[str]:
        return list(self.config.lake.layers)

    @property
    def spark(self) -> dict:
        return self.raw["spark"]

    @property
    def airflow_home(self) -> Path:
        home = Path(self.config.airflow.home).expanduser()
        return home if home.is_absolute() else PROJECT_ROOT / home

    def table_path(self, layer: str, table: str) -> str:
        """Where a table's Delta files live: <lake_root>/<layer>/<table> (standard §5)."""
        return f"{self.lake_root}/{layer}/{table}"

    def section(self, name: str) -> Any:
        return self.raw.get(name, {})

    def with_overrides(self, **overrides: Any) -> Settings:
        """Dotted keys: with_overrides(**{"lake.root": "/tmp/lake"})."""
        nested: dict = {}
        origins = dict(self.origins)
        for dotted, value in overrides.items():
            node = nested
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
            origins[tuple(parts)] = f"override {dotted}"
        return Settings(_deep_merge(self.raw, nested), origins, self.source)


def load_settings(lake_root: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    path = Path(environ.get(CONFIG_ENV) or conf_file("regulake.yaml", environ))
    overrides, origins = _env_overrides(environ)
    base = load_yaml(path) or {}
    if not isinstance(base, dict):
        raise ConfigError(f"{display_path(path)}: expected a mapping of sections, got {type(base).__name__}")
    settings = Settings(_deep_merge(base, overrides), origins, display_path(path))
    if lake_root is not None:
        settings = settings.with_overrides(**{"lake.root": str(lake_root)})
    return settings
