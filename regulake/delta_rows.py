"""Small Delta tables read without a JVM: delta-rs (the `deltalake` package) on the lake's files.

The stages ask the audit tables small questions before they need Spark (has this delivery been
logged, is anything of this feed pending promotion?), and `regulake status` / `--dry-run` answer
from them alone; a question answered here starts no JVM. Local lakes and s3a:// lakes (the same
endpoint and keys Spark uses, `regulake.storage.s3_options`) both work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from regulake.config import Settings


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs (object_store) options for an s3a:// lake, from the s3a settings Spark uses
    (`spark.hadoop.fs.s3a.*` in conf/regulake.yaml), else the usual AWS environment; {} for a local lake."""
    from regulake import storage

    if storage.is_local(settings.lake_root):
        return {}
    conf = {k: str(v) for k, v in (settings.spark.get("conf") or {}).items() if k.startswith("spark.hadoop.fs.s3a.")}
    return delta_options(storage.s3_options(conf, dict(os.environ)))


def delta_options(s3: Mapping[str, str]) -> dict[str, str]:
    """pyarrow S3FileSystem options (`regulake.storage.s3_options`) as object_store's AWS_* keys."""
    options: dict[str, str] = {}
    if s3.get("endpoint_override"):
        scheme = s3.get("scheme", "https")
        options["AWS_ENDPOINT_URL"] = f"{scheme}://{s3['endpoint_override']}"
        if scheme == "http":
            options["AWS_ALLOW_HTTP"] = "true"
    if s3.get("access_key"):
        options["AWS_ACCESS_KEY_ID"] = s3["access_key"]
        options["AWS_SECRET_ACCESS_KEY"] = s3.get("secret_key", "")
    if s3.get("region"):
        options["AWS_REGION"] = s3["region"]
    return options


def delta_uri(uri: str) -> str:
    """The table's URI as delta-rs takes it: s3a:// and s3n:// become s3://, local paths absolute."""
    from pathlib import Path

    scheme, sep, rest = str(uri).partition("://")
    if not sep:
        return str(Path(uri).expanduser().resolve())
    return f"s3://{rest}" if scheme in ("s3a", "s3n") else str(uri)


def open_table(settings: Settings, layer: str, table: str) -> DeltaTable | None:
    """The Delta table `<layer>.<table>` of the lake, or None when it does not exist (yet)."""
    from deltalake import DeltaTable

    from regulake.lake import is_delta_table

    uri = settings.table_path(layer, table)
    if not is_delta_table(uri):
        return None
    return DeltaTable(delta_uri(uri), storage_options=storage_options(settings) or None)


def read_rows(settings: Settings, layer: str, table: str, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of `<layer>.<table>` as dicts of `columns` ([] when the table does not exist; a column
    the table lacks, as an older table may, is None)."""
    dt = open_table(settings, layer, table)
    if dt is None:
        return []
    import pyarrow as pa

    columns = list(columns)
    present = {field.name for field in dt.schema().fields}
    if not present.intersection(columns):
        return [dict.fromkeys(columns) for _ in range(row_count(dt))]
    table = scan(dt, [c for c in columns if c in present])
    # Time-zone-aware timestamps to plain UTC ones first: pyarrow imports pandas to convert the former.
    zoned = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is not None]
    table = table.cast(pa.schema([pa.field(f.name, pa.timestamp(f.type.unit)) if f.name in zoned else f
                                  for f in table.schema]))
    rows = table.to_pylist()
    for row in rows:
        for name in zoned:
            if row[name] is not None:
                row[name] = row[name].replace(tzinfo=UTC)
    return [{c: row.get(c) for c in columns} for row in rows]


def scan(dt: DeltaTable, columns: list[str]) -> pa.Table:
    """`SELECT columns FROM dt` with delta-rs's own engine (DataFusion).

    Not `to_pyarrow_table`: its pyarrow dataset scanner leaves threads that now and then abort the
    interpreter at exit ("terminate called without an active exception", exit code 134)."""
    from deltalake import QueryBuilder

    select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) or "count(*) AS n"
    return arrow(QueryBuilder().register("t", dt).execute(f"SELECT {select} FROM t"))


def arrow(stream: Any) -> pa.Table:
    """A pyarrow Table from delta-rs's arro3 results (the Arrow C stream interface). Not `pa.table()`,
    which imports pandas first (seconds, for nothing here)."""
    import pyarrow as pa

    return pa.RecordBatchReader.from_stream(stream).read_all()


def row_count(dt: DeltaTable) -> int:
    """Rows of the table's current version: the `numRecords` stats of its files in the Delta log;
    read from the data when a file was written without stats."""
    import pyarrow.compute as pc

    actions = arrow(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    if "num_records" in actions.column_names and actions.column("num_records").null_count == 0:
        return int(pc.sum(actions.column("num_records")).as_py() or 0)
    return int(scan(dt, []).column("n")[0].as_py())
