"""Dynamic collection from a department database: a feed's `source:` table read with Spark JDBC and
written into the landing root as a standard delivery (standard §1), so it lands, is gated,
accounted and linked exactly like a delivery a department sends as files.

Per feed and batch day (the collection day in Asia/Shanghai) at most one delivery:

1. the batch folder already has its manifest: collected today, nothing to do (a delivery folder is
   immutable once its manifest exists);
2. incremental (`watermark`): the rows whose watermark is later than the last collection's, up to
   the table's maximum read first, so rows committed during the read wait for the next collection;
   full (`full: true`): the whole table, as a `full` delivery, so a key the department deleted is
   no longer current after promotion (the full-snapshot rule of silver);
3. the data file is written first and `manifest.json` last (a run killed in between leaves a folder
   without a manifest: incomplete, rewritten by the next collection), then the watermark is saved
   under the lake (`_collect/<feed_id>.json`). A kill before that save collects the same range
   again: a delivery with the same content is a duplicate, and silver dedups its records otherwise.

The connection (URL, user, password) comes from Airflow's connection store in the DAG
(`dags/regulake_main.py`), never from the schema or from code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.landing.job import lake_time_zone, landing_date, normalize_root
from jobs.landing.manifest import MANIFEST_NAME
from regulake import storage
from regulake.config import Settings
from regulake.feeds import FeedSchema, load_feed, match_header
from regulake.stage import StageContext

log = logging.getLogger("regulake.collect")

STATE_DIR = "_collect"
DATA_FILE = "part-0001"
# The JDBC drivers regulake ships (regulake/jars.py) by Airflow connection type.
JDBC_SCHEMES = {"postgres": ("postgresql", "org.postgresql.Driver", 5432)}


class SourceTableError(ValueError):
    """The department's table cannot give the feed's records (a required column is missing)."""


@dataclass(frozen=True)
class JdbcConnection:
    url: str
    user: str | None
    password: str | None
    driver: str

    @classmethod
    def from_airflow(cls, connection: Any) -> JdbcConnection:
        """From an Airflow connection (conn_type, host, port, schema = the database, login, password)."""
        kind = str(connection.conn_type or "")
        if kind not in JDBC_SCHEMES:
            raise ValueError(f"connection {connection.conn_id!r}: type {kind!r} has no JDBC driver here "
                             f"(supported: {', '.join(JDBC_SCHEMES)})")
        scheme, driver, default_port = JDBC_SCHEMES[kind]
        url = f"jdbc:{scheme}://{connection.host}:{connection.port or default_port}/{connection.schema or ''}"
        return cls(url=url, user=connection.login or None, password=connection.password or None, driver=driver)

    def options(self) -> dict[str, str]:
        found = {"url": self.url, "driver": self.driver}
        if self.user:
            found["user"] = self.user
        if self.password:
            found["password"] = self.password
        return found


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    return ".".join(quote_identifier(part) for part in table.split("."))


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def source_columns(schema: FeedSchema, table_columns: list[str]) -> dict[str, str]:
    """{feed column name: the table's column} for the feed's columns the table has (matched as headers are:
    trimmed, case-insensitively); a missing required column is an error naming it, a missing optional one
    is simply not delivered, as in a file."""
    match = match_header(schema, table_columns)
    if match.missing_required:
        raise SourceTableError(f"{schema.source.table} lacks the required column(s) "
                               f"{', '.join(match.missing_required)} of feed {schema.feed_id} "
                               f"(schemas/{schema.feed_id}.yaml); it has {', '.join(table_columns)}")
    return {name: table_columns[index] for name, index in match.positions.items()}


def increment_query(schema: FeedSchema, columns: dict[str, str], low: str | None, high: str | None) -> str:
    """The SELECT the database runs: the feed's columns, the watermark range (low, high] when given."""
    source = schema.source
    selected = ", ".join(f"{quote_identifier(column)} AS {quote_identifier(name)}" for name, column in columns.items())
    query = f"SELECT {selected} FROM {quote_table(source.table)}"
    if source.full or high is None:
        return query
    mark = quote_identifier(columns[source.watermark])
    # Untyped literals: the database reads them as the column's own type (with its offset, if any).
    conditions = [f"{mark} <= {sql_literal(high)}"]
    if low is not None:
        conditions.insert(0, f"{mark} > {sql_literal(low)}")
    return f"{query} WHERE {' AND '.join(conditions)}"


def as_delivered_text(frame: DataFrame) -> DataFrame:
    """Every column as the text a department would deliver (standard §3): timestamps ISO 8601 with the
    session's offset, dates YYYY-MM-DD, numbers plain, booleans true/false."""
    def text(field: T.StructField):
        column = frame[field.name]
        if isinstance(field.dataType, T.TimestampType | T.TimestampNTZType):
            return F.date_format(column, "yyyy-MM-dd'T'HH:mm:ssXXX")
        if isinstance(field.dataType, T.DateType):
            return F.date_format(column, "yyyy-MM-dd")
        return column.cast("string")

    return frame.select(*[text(f).alias(f.name) for f in frame.schema.fields])


def render_records(schema: FeedSchema, names: list[str], rows: Any) -> tuple[bytes, int]:
    """The data file's bytes and record count (columns `names`), in the feed's declared format and encoding."""
    count = 0
    if schema.format == "jsonl":
        lines = []
        for row in rows:
            lines.append(json.dumps({n: row[n] for n in names}, ensure_ascii=False))
            count += 1
        text = "".join(line + "\n" for line in lines)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if row[n] is None else row[n] for n in names])
            count += 1
        text = buffer.getvalue()
    return text.encode(schema.encoding), count  # utf-8, utf-8-sig or gb18030: Python's codec names too


def manifest_bytes(schema: FeedSchema, batch_date: str, mode: str, file_name: str, rows: int, sha256: str,
                   produced_at: datetime) -> bytes:
    manifest = {"feed_id": schema.feed_id, "batch_date": batch_date, "mode": mode,
                "files": [{"name": file_name, "rows": rows, "sha256": sha256}],
                "produced_at": produced_at.isoformat(timespec="seconds")}
    return json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")


def read_state(settings: Settings, feed_id: str) -> dict[str, Any]:
    path = f"{settings.lake_root}/{STATE_DIR}/{feed_id}.json"
    return json.loads(storage.read_text(path)) if storage.exists(path) else {}


def write_state(settings: Settings, feed_id: str, state: dict[str, Any]) -> None:
    storage.write_text(f"{settings.lake_root}/{STATE_DIR}/{feed_id}.json", json.dumps(state, sort_keys=True, indent=1))


def collect(spark: SparkSession, settings: Settings, schema: FeedSchema, connection: JdbcConnection,
            landing_root: str, today: date | None = None) -> dict[str, Any]:
    """Collect the feed's new rows into `<landing_root>/<feed_id>/<YYYYMMDD>/`; returns what was done."""
    source = schema.source
    if source is None:
        raise ValueError(f"feed {schema.feed_id} declares no source: (schemas/{schema.feed_id}.yaml)")
    started = time.monotonic()
    storage.configure(settings)
    batch_date = f"{today or landing_date(settings):%Y%m%d}"
    folder = storage.join(normalize_root(landing_root), schema.feed_id, batch_date)
    summary: dict[str, Any] = {"feed_id": schema.feed_id, "batch_date": batch_date, "table": source.table,
                               "rows": 0, "delivery": None}
    if storage.exists(storage.join(folder, MANIFEST_NAME)):
        summary["skipped"] = f"collected on {batch_date} already ({folder})"
        log.info("%s: %s", schema.feed_id, summary["skipped"])
        return summary
    state = read_state(settings, schema.feed_id)
    low = state.get("watermark")
    high = None

    def jdbc(**options: str) -> DataFrame:  # a fresh reader each time: DataFrameReader.option mutates it
        return spark.read.format("jdbc").options(**connection.options(), **options).load()

    # The table's columns: Spark asks the database for the schema only (WHERE 1=0), no rows.
    columns = source_columns(schema, jdbc(dbtable=quote_table(source.table)).columns)
    if not source.full:
        mark = quote_identifier(columns[source.watermark])
        bound = f"SELECT CAST(max({mark}) AS VARCHAR(40)) AS high FROM {quote_table(source.table)}"
        if low is not None:
            bound += f" WHERE {mark} > {sql_literal(low)}"
        high = jdbc(query=bound).first()["high"]
        if high is None:
            summary["skipped"] = f"no row of {source.table} is later than {low}"
            log.info("%s: %s", schema.feed_id, summary["skipped"])
            return summary
    frame = as_delivered_text(jdbc(query=increment_query(schema, columns, low, high)))
    data, rows = render_records(schema, list(columns), frame.toLocalIterator())
    if rows == 0 and not source.full:
        summary["skipped"] = f"no rows in ({low}, {high}]"
        return summary
    name = f"{DATA_FILE}.{schema.format}"
    storage.write_bytes(storage.join(folder, name), data)
    mode = "full" if source.full else "incremental"
    storage.write_bytes(storage.join(folder, MANIFEST_NAME),  # last: the delivery is complete now
                        manifest_bytes(schema, batch_date, mode, name, rows, hashlib.sha256(data).hexdigest(),
                                       datetime.now(lake_time_zone(settings))))
    if high is not None:
        write_state(settings, schema.feed_id, {"watermark": high, "batch_date": batch_date, "rows": rows})
    summary.update(rows=rows, delivery=folder, mode=mode, watermark=high, seconds=round(time.monotonic() - started, 3))
    log.info("%s: collected %d rows of %s into %s (%s)", schema.feed_id, rows, source.table, folder, mode)
    return summary


def run(ctx: StageContext, connection: JdbcConnection) -> dict[str, Any]:
    """Collect `ctx.feed_id` from its source table into the run's landing root."""
    return collect(ctx.spark, ctx.settings, load_feed(ctx.require_feed()), connection, ctx.require_landing())
