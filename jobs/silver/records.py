"""Record outcomes of standard §2 for one delivery: pure DataFrame -> DataFrame transforms.

`check_records` turns a delivery's bronze rows into the *checked frame*: one
candidate column per schema column (named by alias), its `<alias>__status`
(see `regulake.normalize`), the record's quarantine reason and its
data-quality flags. The GX checkpoint validates this frame. Then
`quarantine_records` gives the `audit.quarantine` rows and `accepted_records`
the typed rows that go on to dedup and versioning.

Rules (standard §2, conf/quality.yaml):

* an R column empty after trimming -> `missing_required`;
* a key column invalid after normalisation -> `invalid_key`;
* another R column present but invalid -> `invalid_value`;
* an optional column invalid -> value null, flag `<alias>:invalid_value`;
* an identifier failing only its check digit -> value kept, flag
  `<alias>:check_digit` (never used for linking), unless it is strict: an
  identifier in the business key (standard v1.1 §2, so `invalid_key`) or a
  column listed in `strict_check_digit`; then it counts as invalid.

When several apply, the reason is the first of missing_required,
invalid_key, invalid_value; `reason_detail` lists every problem.
"""

from __future__ import annotations

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver.personal import mask_col, personal_columns
from jobs.silver.quality import FeedQuality
from regulake.feeds import Column, FeedSchema
from regulake.normalize import (
    CHECK_DIGIT,
    INVALID,
    OK,
    key_part_col,
    normalize_frame,
    spark_type,
    status_column,
)

MISSING_REQUIRED = "missing_required"
INVALID_KEY = "invalid_key"
INVALID_VALUE = "invalid_value"
REASON_CODES = (MISSING_REQUIRED, INVALID_KEY, INVALID_VALUE)
STAGE = "silver"

LINEAGE = ["_feed_id", "_batch_date", "_file_name", "_record_no", "_ingested_at", "_record_hash", "_delivery_id"]
REASON = "_reason_code"
DETAIL = "_reason_detail"
RAW = "_raw_record"
DQ_FLAGS = "_dq_flags"
RECORD_KEY = "_record_key"
CONTENT_HASH = "_content_hash"


def raw_column(alias: str) -> str:
    return f"__raw_{alias}"


def key_columns(schema: FeedSchema) -> list[Column]:
    """The business-key columns, in key order."""
    return [schema.column(name) for name in schema.key]


def _fatal(column: Column, quality: FeedQuality) -> SparkColumn:
    """Status values that make a present value unusable for the record."""
    status = F.col(status_column(column.alias))
    if column.alias in quality.strict_check_digit:
        return status.isin(INVALID, CHECK_DIGIT)
    return status == INVALID


def _problem(code: str, column: Column, with_value: bool, personal: str | None = None) -> SparkColumn:
    """A problem of a record: its code and a text naming the column (and its value, masked when
    the column holds personal data: `personal` "ric" or "name", jobs.silver.personal)."""
    text = F.lit(f"{code}: {column.name}")
    if with_value:
        value = F.col(raw_column(column.alias))
        if personal is not None:
            value = mask_col(value, personal)
        text = F.concat(text, F.lit("="), F.coalesce(value, F.lit("")))
    return F.struct(F.lit(code).alias("code"), text.alias("text"))


def check_records(bronze: DataFrame, schema: FeedSchema, quality: FeedQuality) -> DataFrame:
    """Bronze rows of one delivery -> the checked frame (candidates, statuses, reason, flags).

    Columns: lineage, `_extra`, `_raw_record` (JSON of the bronze string
    columns), `__raw_<alias>`, `<alias>` (candidate), `<alias>__status`,
    `_reason_code`, `_reason_detail`, `_dq_flags`.
    """
    raw_json = F.to_json(F.struct(*[F.col(f"`{c.name}`") for c in schema.columns]),
                         {"ignoreNullFields": "false"})
    staged = bronze.select(
        "*", raw_json.alias(RAW), *[F.col(f"`{c.name}`").alias(raw_column(c.alias)) for c in schema.columns]
    )
    keep = [*LINEAGE, "_extra", RAW, *[raw_column(c.alias) for c in schema.columns]]
    normalised = normalize_frame(staged, schema, keep=keep)

    key_aliases = {c.alias for c in key_columns(schema)}
    personal = personal_columns(schema)
    problems, flags = [], []
    for column in schema.columns:
        status = F.col(status_column(column.alias))
        fatal = _fatal(column, quality)
        if column.required:
            problems.append(F.when(status.isNull(), _problem(MISSING_REQUIRED, column, False)))
            code = INVALID_KEY if column.alias in key_aliases else INVALID_VALUE
            problems.append(F.when(fatal, _problem(code, column, True, personal.get(column.alias))))
        else:
            flags.append(F.when(fatal, F.lit(f"{column.alias}:{INVALID_VALUE}")))
        if column.alias not in quality.strict_check_digit:
            flags.append(F.when(status == CHECK_DIGIT, F.lit(f"{column.alias}:{CHECK_DIGIT}")))
    found = F.filter(F.array(*problems), lambda p: p.isNotNull()) if problems else F.array()
    codes = F.transform(found, lambda p: p["code"])
    reason = F.lit(None).cast("string")
    for code in reversed(REASON_CODES):  # first in precedence wins
        reason = F.when(F.array_contains(codes, code), F.lit(code)).otherwise(reason)
    detail = F.when(F.size(found) > 0, F.array_join(F.transform(found, lambda p: p["text"]), "; "))
    dq_flags = F.array_sort(F.filter(F.array(*flags), lambda f: f.isNotNull())) if flags else F.array()
    return normalised.select(
        "*", reason.alias(REASON), detail.alias(DETAIL), dq_flags.cast("array<string>").alias(DQ_FLAGS)
    )


def quarantine_records(checked: DataFrame) -> DataFrame:
    """`audit.quarantine` rows (stage silver) of the checked frame's quarantined records."""
    return checked.where(F.col(REASON).isNotNull()).select(
        F.col("_feed_id").alias("feed_id"),
        F.col("_batch_date").alias("batch_date"),
        F.col("_file_name").alias("file_name"),
        F.col("_record_no").cast("int").alias("record_no"),
        F.col(REASON).alias("reason_code"),
        F.col(DETAIL).alias("reason_detail"),
        F.col(RAW).alias("raw_record"),
        F.lit(STAGE).alias("stage"),
        F.current_timestamp().alias("quarantined_at"),
        F.col("_delivery_id").alias("delivery_id"),
    )


def quarantined_copies(checked: DataFrame, schema: FeedSchema, quality: FeedQuality) -> DataFrame:
    """`audit.record_copies` rows of quarantined records whose business key is valid (content hash null).

    In a full delivery such a record is still in the snapshot: its key must keep
    the version held (it is not "missing"), so it counts for currency, never for
    dedup or versions. Records without a usable key (invalid_key, a key column
    missing, or parse errors at landing) cannot be attributed to a key.
    """
    key_ok = F.lit(True)
    for column in key_columns(schema):
        key_ok = key_ok & F.col(status_column(column.alias)).isNotNull() & ~_fatal(column, quality)
    return checked.where(F.col(REASON).isNotNull() & key_ok).select(
        F.col("_feed_id").alias("feed_id"),
        record_key_col(schema).alias("record_key"),
        F.lit(None).cast("string").alias("content_hash"),
        F.col("_batch_date").alias("batch_date"),
        F.col("_file_name").alias("file_name"),
        F.col("_record_no").cast("int").alias("record_no"),
        F.col("_delivery_id").alias("delivery_id"),
    )


def record_key_col(schema: FeedSchema) -> SparkColumn:
    """`_record_key`: the normalised key parts joined with `|` (standard §5)."""
    return F.concat_ws("|", *[key_part_col(c, F.col(c.alias)) for c in key_columns(schema)])


def accepted_records(checked: DataFrame, schema: FeedSchema) -> DataFrame:
    """Typed rows of the records that are not quarantined: what silver may hold.

    Invalid optional values become null; values failing only a check digit are
    kept (flagged). `_content_hash` hashes the normalised values of every
    schema column, so two copies with the same key and hash are exact
    duplicates (standard §2: same content in the standard's columns).
    """
    accepted = checked.where(F.col(REASON).isNull())
    values = [
        F.when(F.col(status_column(c.alias)).isin(OK, CHECK_DIGIT), F.col(c.alias))
        .cast(spark_type(c)).alias(c.alias)
        for c in schema.columns
    ]
    typed = accepted.select(*values, "_extra", *LINEAGE, DQ_FLAGS)
    content = F.sha2(F.to_json(F.struct(*[F.col(c.alias) for c in schema.columns]),
                               {"ignoreNullFields": "false"}), 256)
    return typed.select(
        "*",
        F.array().cast("array<string>").alias("_outlier_flags"),
        record_key_col(schema).alias(RECORD_KEY),
        content.alias(CONTENT_HASH),
    )
