"""Bronze: staging parsed records as Parquet, then one Delta append per feed and run.

Readers hand records to a `DeliveryStaging` (a `RecordSink`), which buffers
them and writes Arrow chunks of 50,000 rows to Parquet under the lake's hidden
`.staging/` folder, so memory stays bounded however big a file is. Once every
delivery of the run has passed its checks, one Spark read of the staged files
and one Delta append make all of them visible at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from regulake import lake, storage
from regulake.config import Settings
from regulake.feeds import FeedSchema

CHUNK_ROWS = 50_000
LINEAGE_COLUMNS = ["_feed_id", "_batch_date", "_file_name", "_record_no", "_ingested_at", "_record_hash",
                   "_delivery_id"]
STAGING_ROOT = ".staging/landing"

_MAP = pa.map_(pa.string(), pa.string())
QUARANTINE_STAGING_SCHEMA = pa.schema([
    ("feed_id", pa.string()), ("batch_date", pa.string()), ("file_name", pa.string()),
    ("record_no", pa.int32()), ("reason_code", pa.string()), ("reason_detail", pa.string()),
    ("raw_record", pa.string()), ("stage", pa.string()), ("delivery_id", pa.string()),
])
QUARANTINE_STAGED_SPARK_SCHEMA = T.StructType([
    T.StructField(f.name, T.IntegerType() if f.name == "record_no" else T.StringType())
    for f in QUARANTINE_STAGING_SCHEMA
])


def staging_arrow_schema(schema: FeedSchema) -> pa.Schema:
    """Arrow schema of staged bronze rows: every column as string, `_extra`, lineage but `_ingested_at`."""
    return pa.schema(
        [pa.field(name, pa.string()) for name in schema.column_names]
        + [
            pa.field("_extra", _MAP),
            pa.field("_feed_id", pa.string()),
            pa.field("_batch_date", pa.string()),
            pa.field("_file_name", pa.string()),
            pa.field("_record_no", pa.int32()),
            pa.field("_record_hash", pa.string()),
            pa.field("_delivery_id", pa.string()),
        ]
    )


def bronze_spark_schema(schema: FeedSchema) -> T.StructType:
    """The Delta schema of `bronze.<feed_id>` (docs/ARCHITECTURE.md, "Lake tables")."""
    return T.StructType(
        [T.StructField(name, T.StringType()) for name in schema.column_names]
        + [
            T.StructField("_extra", T.MapType(T.StringType(), T.StringType())),
            T.StructField("_feed_id", T.StringType()),
            T.StructField("_batch_date", T.StringType()),
            T.StructField("_file_name", T.StringType()),
            T.StructField("_record_no", T.IntegerType()),
            T.StructField("_ingested_at", T.TimestampType()),
            T.StructField("_record_hash", T.StringType()),
            T.StructField("_delivery_id", T.StringType()),
        ]
    )


def _staged_spark_schema(schema: FeedSchema) -> T.StructType:
    return T.StructType([f for f in bronze_spark_schema(schema).fields if f.name != "_ingested_at"])


class _ChunkedParquet:
    """Row buffer that appends Arrow chunks to one Parquet file (bounded memory)."""

    def __init__(self, uri: str, arrow_schema: pa.Schema) -> None:
        self.uri = uri
        self.schema = arrow_schema
        self.buffer: list[Sequence] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, row: Sequence) -> None:
        self.buffer.append(row)
        self.rows += 1
        if len(self.buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        # Rows are transposed into columns only here, in C (zip), not per record.
        columns = list(zip(*self.buffer, strict=True)) if self.buffer else [()] * len(self.schema)
        table = pa.Table.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        if self._writer is None:
            fs, path = storage.resolve(self.uri)
            self._writer = pq.ParquetWriter(path, self.schema, filesystem=fs, compression="snappy")
        self._writer.write_table(table)
        self.buffer = []

    def close(self) -> None:
        if self.buffer:
            self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class DeliveryStaging:
    """The `RecordSink` of one delivery: bronze rows and quarantine rows staged as Parquet.

    Call `start_file(name)` before reading each file, `close()` when the
    delivery is read. Nothing here is visible in the lake until `write_bronze`.
    """

    def __init__(self, root: str, schema: FeedSchema, batch_date: str, delivery_id: str) -> None:
        self.root = root
        self.schema = schema
        self.batch_date = batch_date
        self.delivery_id = delivery_id
        self._arrow = staging_arrow_schema(schema)
        self._file_name = ""
        self._bronze: _ChunkedParquet | None = None
        self._quarantine: _ChunkedParquet | None = None
        self._files = 0
        storage.make_dirs(storage.join(root, "bronze"))
        storage.make_dirs(storage.join(root, "quarantine"))

    @property
    def bronze_dir(self) -> str:
        return storage.join(self.root, "bronze")

    @property
    def quarantine_dir(self) -> str:
        return storage.join(self.root, "quarantine")

    def start_file(self, file_name: str) -> None:
        self._close_writers()
        self._files += 1
        self._file_name = file_name
        part = f"part-{self._files:05d}.parquet"
        self._bronze = _ChunkedParquet(storage.join(self.bronze_dir, part), self._arrow)
        self._quarantine = _ChunkedParquet(storage.join(self.quarantine_dir, part), QUARANTINE_STAGING_SCHEMA)

    def add(self, record_no: int, values: list[str | None], extra: dict[str, str] | None,
            record_hash: str) -> None:
        self._bronze.append([
            *values,
            list(extra.items()) if extra else None,
            self.schema.feed_id, self.batch_date, self._file_name, record_no, record_hash, self.delivery_id,
        ])

    def quarantine(self, record_no: int, reason_code: str, reason_detail: str, raw_record: str) -> None:
        self._quarantine.append([
            self.schema.feed_id, self.batch_date, self._file_name, record_no, reason_code, reason_detail,
            raw_record, "landing", self.delivery_id,
        ])

    def _close_writers(self) -> None:
        for writer in (self._bronze, self._quarantine):
            if writer is not None:
                writer.close()
        self._bronze = self._quarantine = None

    def close(self) -> None:
        self._close_writers()

    def discard(self) -> None:
        self._close_writers()
        storage.remove_tree(self.root)


def new_staging_root(settings: Settings, feed_id: str) -> str:
    """A fresh staging folder for one run of one feed (unique: runs never share it)."""
    return storage.join(settings.lake_root, STAGING_ROOT, feed_id, uuid.uuid4().hex)


def bronze_frame(staged: DataFrame, schema: FeedSchema, ingested_at: Column) -> DataFrame:
    """Staged rows in the bronze layout: schema columns, `_extra`, lineage with `_ingested_at`."""
    return staged.select(
        *[F.col(f"`{name}`") for name in schema.column_names],
        F.col("_extra"),
        F.col("_feed_id"),
        F.col("_batch_date"),
        F.col("_file_name"),
        F.col("_record_no"),
        ingested_at.cast("timestamp").alias("_ingested_at"),
        F.col("_record_hash"),
        F.col("_delivery_id"),
    )


def read_staged_bronze(spark: SparkSession, schema: FeedSchema, dirs: Sequence[str]) -> DataFrame:
    return spark.read.schema(_staged_spark_schema(schema)).parquet(*[spark_uri(d) for d in dirs])


def spark_uri(uri: str) -> str:
    return uri if "://" in uri else f"file://{uri}"


def delivery_ids_in_bronze(
    spark: SparkSession, settings: Settings, feed_id: str, candidates: dict[str, str]
) -> set[str]:
    """Which of `candidates` ({delivery_id: batch_date}) bronze already holds (a crash before logging)."""
    table = lake.read(spark, settings, "bronze", feed_id) if candidates else None
    if table is None:
        return set()
    found = (
        table.where(F.col("_batch_date").isin(sorted(set(candidates.values()))))  # partition pruning
        .where(F.col("_delivery_id").isin(sorted(candidates)))
        .select("_delivery_id").distinct().collect()
    )
    return {row[0] for row in found}


def write_bronze(
    spark: SparkSession, settings: Settings, schema: FeedSchema, staged_dirs: Sequence[str]
) -> None:
    """ONE Delta append holding every staged delivery of the run (all visible at once, or none)."""
    if staged_dirs:
        staged = read_staged_bronze(spark, schema, staged_dirs)
    else:
        staged = spark.createDataFrame([], _staged_spark_schema(schema))
    frame = bronze_frame(staged, schema, F.current_timestamp())
    # mergeSchema: a schema YAML that gains an optional column adds it to bronze instead of failing.
    lake.append(spark, settings, "bronze", schema.feed_id, frame, partition_by=("_batch_date",),
                options={"mergeSchema": "true"})
