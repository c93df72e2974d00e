"""A stand-in for silver built from a generated landing and its truth (benchmarks, training).

The benchmark and model training need silver-shaped records at sizes the whole
pipeline would take long to produce on a laptop. This reads the delivered files
directly, keeps the records the truth says are accepted (so quarantine, duplicates and
rejected deliveries are already settled), takes their normalised `_record_key` from the
truth, and keeps the latest version per key. Identifiers are compacted and
region codes made half-width (as silver does); names and addresses reach linking as
delivered (trimmed), which linking must cope with anyway.
Not part of the pipeline: the DAG links the real silver tables.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from regulake.feeds import load_feed, normalize_header
from regulake.identifiers import compact_identifier, to_halfwidth

_LIST_SPLIT = re.compile(r"[;；、]")
# Column types silver normalises to the compact identifier form (standard §3).
_IDENTIFIER_TYPES = {"uscc", "party_id", "unit_code", "taxpayer_id", "org_code", "reg_no", "ric"}


def _records(path: Path, fmt: str, encoding: str) -> list[dict[str, str | None]]:
    """Records of one delivered file, as header-name -> text (1-based order kept)."""
    data = path.read_bytes()
    text = data.decode("utf-8-sig" if encoding.startswith("utf-8") else encoding, errors="replace")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = [normalize_header(h) for h in rows[0]]
        return [dict(zip(header, row, strict=False)) for row in rows[1:] if row]
    out: list[dict[str, str | None]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            out.append({})
            continue
        out.append({normalize_header(k): (json.dumps(v, ensure_ascii=False) if isinstance(v, list) else
                                          None if v is None else str(v)) for k, v in obj.items()})
    return out


def _as_list(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(value)]
        except ValueError:
            pass
    return [v.strip() for v in _LIST_SPLIT.split(value)]


def silver_frames(spark: SparkSession, out_dir: Path | str, feeds: list[str],
                  up_to_batch: str | None = None, staging: Path | str | None = None) -> dict[str, DataFrame]:
    """feed_id -> silver-shaped current records (aliases, _record_key, _dq_flags, _batch_date, _is_current).

    `up_to_batch` (YYYYMMDD): only deliveries up to that batch, as silver holds them
    after that day's run. `_ingested_at` is the batch date at 21:00 (after the cut-off).
    The records pass through Parquet files under `staging` (default: a new temp dir),
    which must outlive the frames.
    """
    staging = Path(staging or tempfile.mkdtemp(prefix="regulake-devsilver-"))
    out_dir = Path(out_dir)
    truth = pd.read_parquet(out_dir / "truth" / "records.parquet",
                            columns=["feed_id", "batch_date", "file_name", "record_no", "record_key", "expected"])
    truth = truth[truth["expected"] == "accepted"]
    frames: dict[str, DataFrame] = {}
    for feed_id in feeds:
        schema = load_feed(feed_id)
        rows = []
        for path in sorted((out_dir / "landing" / feed_id).glob("*/part-*")):
            batch = path.parent.name
            if up_to_batch and batch > up_to_batch:
                continue
            for record_no, record in enumerate(_records(path, schema.format, schema.encoding), start=1):
                row = {c.alias: (record.get(normalize_header(c.name)) or "").strip() or None for c in schema.columns}
                row.update(_batch_date=batch, _file_name=path.name, _record_no=record_no)
                rows.append(row)
        if not rows:
            continue
        df = pd.DataFrame(rows)
        keyed = df.merge(
            truth[truth["feed_id"] == feed_id].drop(columns=["feed_id", "expected"]).drop_duplicates(
                ["batch_date", "file_name", "record_no"]),
            left_on=["_batch_date", "_file_name", "_record_no"], right_on=["batch_date", "file_name", "record_no"],
        )
        # Silver keys sentiment by item, not by mention: item_id|pos rows share a record.
        keyed["_record_key"] = keyed["record_key"].str.replace(r"\|\d+$", "", regex=True) \
            if feed_id == "sentiment" else keyed["record_key"]
        keyed = keyed.sort_values(["_batch_date", "_record_no"]).drop_duplicates("_record_key", keep="last")
        columns = [c.alias for c in schema.columns]
        for c in schema.columns:
            if c.type == "list":
                keyed[c.alias] = keyed[c.alias].map(_as_list)
            elif c.type in _IDENTIFIER_TYPES:
                keyed[c.alias] = keyed[c.alias].map(compact_identifier)
            elif c.type == "region_code":
                keyed[c.alias] = keyed[c.alias].map(lambda v: to_halfwidth(v).strip() if isinstance(v, str) else v)
        fields = [pa.field(c.alias, pa.list_(pa.string()) if c.type == "list" else pa.string())
                  for c in schema.columns]
        fields += [pa.field("_batch_date", pa.string()), pa.field("_record_no", pa.int32()),
                   pa.field("_record_key", pa.string())]
        pdf = keyed[columns + ["_batch_date", "_record_no", "_record_key"]].astype(object)
        pdf = pdf.where(pd.notna(pdf), None)
        # Through Parquet: Spark reads a million rows from a file far faster than from Python lists.
        path = staging / f"{feed_id}-{up_to_batch or 'all'}.parquet"
        pq.write_table(pa.Table.from_pandas(pdf, schema=pa.schema(fields), preserve_index=False), path)
        sdf = spark.read.parquet(str(path))
        frames[feed_id] = sdf.withColumn("_dq_flags", F.array().cast(ArrayType(StringType()))).withColumn(
            "_is_current", F.lit(True)
        ).withColumn("_ingested_at", F.to_timestamp(F.concat("_batch_date", F.lit("21")), "yyyyMMddHH"))
    return frames


def write_silver(spark: SparkSession, settings, frames: dict[str, DataFrame]) -> None:
    """Overwrite silver.<feed_id> of the settings' lake with the frames (benchmarks, tests)."""
    from regulake import lake

    for feed_id, df in frames.items():
        lake.overwrite(spark, settings, "silver", feed_id, df, options={"overwriteSchema": "true"})
