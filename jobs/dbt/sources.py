"""Generate the dbt sources and staging docs from schemas/*.yaml, so they never drift.

One feed YAML drives landing, the GX suite and dbt. This script writes, for the 15
silver feeds:

* `dbt_project/models/staging/_sources.yml`: one source per delivering system
  (conf/dbt.yaml `staging`), schema `silver`, every column described and typed
  as silver types it (so staging can stand in for a feed not yet delivered);
* `dbt_project/models/staging/<source>/_<source>__models.yml`: the staging models'
  docs and data tests (each version once and one current version per key,
  canonical enum labels and list items), all derived from the feed schema.

`make generate` rewrites them after a schema or the glossary changes; `make check-generated`
fails when a committed one differs from what would be generated (scripts/generate.py).
The staging SQL is hand-written; tests/jobs/dbt checks it selects exactly these columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from jobs.dbt.config import (
    GENERATED_HEADER,
    STAGING_DIR,
    DbtConfig,
    StagingName,
    load_dbt_config,
)
from regulake.feeds import Column, FeedSchema, load_all_feeds
from regulake.normalize import spark_type

SOURCES_FILE = STAGING_DIR / "_sources.yml"
HEADER = GENERATED_HEADER.format(script="jobs/dbt/sources.py", inputs="schemas/*.yaml and conf/dbt.yaml")

# Silver's contract columns beyond the schema's (docs/ARCHITECTURE.md, lake tables): type, description.
SILVER_COLUMNS = {
    "_record_key": ("string", "normalised business key, parts joined with `|` (业务主键)"),
    "_version_rank": ("int", "version order per key, 1 = latest (版本序号)"),
    "_is_current": ("boolean", "whether the version is current (当前版本)"),
    "_dq_flags": ("array<string>", "data-quality flags, e.g. `reg_capital:invalid_value` (数据质量标记)"),
    "_outlier_flags": ("array<string>", "outlier flags (异常值标记)"),
    "_feed_id": ("string", "feed id (数据源编号)"),
    "_batch_date": ("string", "batch date of the delivery, YYYYMMDD (批次日期)"),
    "_file_name": ("string", "delivered file name (来源文件)"),
    "_record_no": ("int", "1-based record number in the file (记录序号)"),
    "_ingested_at": ("timestamp", "time landing ingested the record (入湖时间)"),
    "_record_hash": ("string", "sha256 of the raw record (原始记录哈希)"),
    "_promotion_seq": ("bigint", "promotion sequence: grows with every promotion that wrote the row (晋级序号)"),
}

# Columns every staging model has besides the schema aliases, in SQL order around them.
STAGING_LEADING = {
    "record_version_id": "Surrogate key of this version (版本标识): md5 of the business key and every "
                         "standard column. Unique, because silver holds each distinct version once.",
    "record_key": "Normalised business key, parts joined with `|` (业务主键); joins gold.entity_xref.record_key.",
}
STAGING_TRAILING = {
    "is_current": "Whether this is the current version (当前版本): the latest version, and for full-mode "
                  "feeds still held by the latest full snapshot.",
    "version_rank": "Version order per business key, 1 = latest (版本序号): version column, then batch date, "
                    "then position in the delivery (standard §2).",
    "dq_flags": "Data-quality flags set by silver (数据质量标记), e.g. `reg_capital:invalid_value`.",
    "outlier_flags": "Outlier flags set by silver (异常值标记).",
    "batch_date": "Batch date of the delivery that carried this version (批次日期).",
    "source_file_name": "Delivered file that carried this version (来源文件).",
    "source_record_no": "1-based record number in that file (记录序号).",
    "ingested_at": "Time landing ingested the version (入湖时间).",
    "promotion_seq": "Sequence of the silver promotion that last wrote this version (晋级序号); grows with every "
                     "promotion, so it is the watermark of incremental marts (a delivery held by the gate and "
                     "released later has an early ingested_at but a late promotion_seq).",
}


def _labels(column: Column) -> list[str]:
    """Canonical values silver holds: enum labels (codes map to them), allowed list items."""
    values = column.values
    if not values:
        return []
    labels = values.values() if isinstance(values, dict) else values
    return list(dict.fromkeys(str(v) for v in labels))


def describe_column(schema: FeedSchema, column: Column, config: DbtConfig) -> str:
    text = config.describe(schema.feed_id, column.alias)
    if text is None:
        raise KeyError(f"conf/dbt.yaml glossary has no entry for {schema.feed_id}.{column.alias}")
    details = [column.type, "required" if column.required else "optional"]
    if column.unit:
        details.append(f"unit {column.unit}")
    if column.name in schema.key:
        details.append("business key")
    if column.name == schema.version_column:
        details.append("version column")
    labels = _labels(column)
    if labels:
        details.append("values " + " / ".join(labels))
    delivered = f"Standard column `{column.name}`"
    return f"{text[0].upper()}{text[1:]}. {delivered}: {', '.join(details)}."


def _source_table(schema: FeedSchema, config: DbtConfig) -> dict[str, Any]:
    columns = [{"name": c.alias, "description": describe_column(schema, c, config), "data_type": spark_type(c)}
               for c in schema.columns]
    columns += [{"name": name, "description": text, "data_type": data_type}
                for name, (data_type, text) in SILVER_COLUMNS.items()]
    return {
        "name": schema.feed_id,
        "description": f"{schema.title}: every accepted version of every record of feed `{schema.feed_id}` "
                       f"(silver.{schema.feed_id}), typed, named by schema alias.",
        "meta": {
            "department": schema.department,
            "business_key": [schema.column(k).alias for k in schema.key],
            "version_column": schema.column(schema.version_column).alias,
            "modes": list(schema.modes),
        },
        "columns": columns,
    }


def render_sources(feeds: dict[str, FeedSchema], config: DbtConfig) -> str:
    by_source: dict[str, list[FeedSchema]] = {}
    for feed_id, name in config.staging.items():
        by_source.setdefault(name.source, []).append(feeds[feed_id])
    sources = [
        {
            "name": source,
            "description": config.sources[source],
            "schema": "silver",
            "tables": [_source_table(schema, config) for schema in schemas],
        }
        for source, schemas in by_source.items()
    ]
    return HEADER + _dump({"version": 2, "sources": sources})


def staging_model(schema: FeedSchema, name: StagingName, config: DbtConfig) -> dict[str, Any]:
    key_aliases = [schema.column(k).alias for k in schema.key]
    enums = {c.alias: _labels(c) for c in schema.columns if c.type == "enum" and _labels(c)}
    lists = {c.alias: _labels(c) for c in schema.columns if c.type == "list" and _labels(c)}
    columns: list[dict[str, Any]] = [
        {"name": "record_version_id", "description": STAGING_LEADING["record_version_id"]},
        {"name": "record_key", "description": STAGING_LEADING["record_key"]},
    ]
    columns += [{"name": c.alias, "description": describe_column(schema, c, config)} for c in schema.columns]
    columns += [{"name": n, "description": t} for n, t in STAGING_TRAILING.items()]
    model: dict[str, Any] = {
        "name": name.model,
        "description": f"{schema.title}: every version silver holds of feed `{schema.feed_id}` (current and "
                       f"superseded; filter `is_current` for the latest), renamed for dbt. Business key "
                       f"{', '.join(key_aliases)}; the only reader of source('{name.source}', "
                       f"'{schema.feed_id}').",
    }
    model["data_tests"] = ["silver_versions"]
    if enums or lists:
        arguments: dict[str, Any] = {}
        if enums:
            arguments["enums"] = enums
        if lists:
            arguments["lists"] = lists
        model["data_tests"].append({"canonical_labels": {"arguments": arguments}})
    model["columns"] = columns
    return model


def render_staging_models(feeds: dict[str, FeedSchema], config: DbtConfig) -> dict[Path, str]:
    files: dict[Path, list[dict[str, Any]]] = {}
    for feed_id, name in config.staging.items():
        path = STAGING_DIR / name.source / f"_{name.source}__models.yml"
        files.setdefault(path, []).append(staging_model(feeds[feed_id], name, config))
    return {path: HEADER + _dump({"version": 2, "models": models}) for path, models in files.items()}


def render_all() -> dict[Path, str]:
    """Every generated file: path -> content."""
    feeds = load_all_feeds()
    config = load_dbt_config()
    missing = sorted(set(feeds) - set(config.staging))
    if missing:
        raise KeyError(f"conf/dbt.yaml `staging` does not name feeds {missing}")
    return {SOURCES_FILE: render_sources(feeds, config), **render_staging_models(feeds, config)}


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False)
