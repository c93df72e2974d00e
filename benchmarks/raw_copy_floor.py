"""Raw-copy floor: the same landing bytes copied into Delta with no checks, one table per feed.

    .venv/bin/python benchmarks/raw_copy_floor.py --landing DIR --lake DIR \\
        --batches 20240131,20240229 --last 20240331 --json OUT.json

Run by benchmarks/pipeline.py in its own process (the session comes from
`regulake.spark.get_spark`, so master and Spark settings are the pipeline's). Per feed,
every data file of the chosen batch folders is parsed by Spark's own readers (csv with
header, multiLine and the feed's encoding; jsonl with spark.read.json; xlsx with
pandas/openpyxl then spark.createDataFrame) and written as one Delta table. Three
phases, each timed without the JVM start:

* full: the --batches folders, overwrite into <lake>/full/<feed>;
* increment: the --last folder appended to those tables (the incremental run's bytes);
* all: every folder (--batches and --last), overwrite into <lake>/all/<feed>.

The JVM start and a warm-up (the smallest file of each feed read and written to Delta once) are
timed apart (`startup_seconds`). Writes a JSON
summary (seconds, files, bytes, rows written per phase and per feed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

SPARK_ENCODING = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030"}
_BAD_COLUMN_CHARS = re.compile(r"[ ,;{}()\n\t=]")


def data_files(landing: Path, feed_id: str, fmt: str, batches: list[str]) -> list[Path]:
    """Every data file of the feed's batch folders (manifests and other formats left out)."""
    files = []
    for batch in batches:
        folder = landing / feed_id / batch
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file() and fmt in p.name.lower().split(".")[1:])
    return files


def safe_columns(names: list[str]) -> list[str]:
    """Column names Delta accepts without column mapping, unique, in order."""
    out: list[str] = []
    for i, name in enumerate(names):
        name = _BAD_COLUMN_CHARS.sub("_", str(name).replace("\ufeff", "").strip()) or f"c{i}"
        base, n = name, 1
        while name.lower() in {o.lower() for o in out}:
            n += 1
            name = f"{base}_{n}"
        out.append(name)
    return out


def read_feed(spark, fmt: str, encoding: str, files: list[Path]):
    paths = [str(p) for p in files]
    if fmt == "csv":
        frame = (spark.read.option("header", True).option("multiLine", True)
                 .option("encoding", SPARK_ENCODING.get(encoding, encoding)).csv(paths))
    elif fmt == "jsonl":
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, MapType, StructType

        # Values as strings (types may differ between batches); nested values as their JSON text
        # (an empty object is an empty struct, which Parquet cannot write).
        frame = spark.read.option("primitivesAsString", True).json(paths)
        frame = frame.select(*[
            F.to_json(F.col(f"`{f.name}`")).alias(f.name)
            if isinstance(f.dataType, StructType | ArrayType | MapType) else F.col(f"`{f.name}`")
            for f in frame.schema.fields])
    elif fmt == "xlsx":
        import pandas as pd

        parts = [pd.read_excel(p, sheet_name=0, dtype=str, engine="openpyxl") for p in files]
        pdf = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        pdf.columns = [str(c) for c in pdf.columns]
        pdf = pdf.astype(object).where(pdf.notna(), None)
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(c, StringType()) for c in safe_columns(list(pdf.columns))])
        frame = spark.createDataFrame(pdf, schema=schema)
    else:
        raise ValueError(f"unknown format {fmt}")
    return frame.toDF(*safe_columns(frame.columns))


def rows_written(spark, path: str) -> int:
    row = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").select("operationMetrics").first()
    metrics = (row.operationMetrics or {}) if row else {}
    return int(metrics.get("numOutputRows", 0))


def copy_phase(spark, landing: Path, lake: Path, feeds: dict[str, tuple[str, str]], batches: list[str],
               table_dir: str, mode: str) -> dict:
    figures = {"batches": batches, "files": 0, "bytes": 0, "seconds": 0.0, "rows_written": 0, "feeds": {}}
    targets = []
    started = time.perf_counter()
    for feed_id, (fmt, encoding) in feeds.items():
        files = data_files(landing, feed_id, fmt, batches)
        if not files:
            continue
        feed_started = time.perf_counter()
        print(f"floor {table_dir}/{feed_id}: {len(files)} files ({mode})", file=sys.stderr, flush=True)
        path = str(lake / table_dir / feed_id)
        frame = read_feed(spark, fmt, encoding, files)
        if frame.columns:  # empty files only (an empty delivery): no columns, nothing to write
            writer = frame.write.format("delta").mode(mode)
            if mode == "overwrite":
                writer = writer.option("overwriteSchema", "true")
            else:
                writer = writer.option("mergeSchema", "true")
            writer.save(path)
            targets.append((feed_id, path))
        figures["files"] += len(files)
        figures["bytes"] += sum(p.stat().st_size for p in files)
        figures["feeds"][feed_id] = {"seconds": round(time.perf_counter() - feed_started, 2), "files": len(files),
                                     "rows_written": 0}
    figures["seconds"] = round(time.perf_counter() - started, 2)
    for feed_id, path in targets:  # counted after the clock stopped
        rows = rows_written(spark, path)
        figures["feeds"][feed_id]["rows_written"] = rows
        figures["rows_written"] += rows
    return figures


def floor_session(lake: Path, app_name: str):
    """The pipeline's Spark session settings, plus the legacy charsets and Arrow the readers need."""
    from regulake.config import load_settings
    from regulake.spark import get_spark

    settings = load_settings(lake_root=lake).with_overrides(
        spark={"conf": {"spark.sql.legacy.javaCharsets": "true",
                        "spark.sql.execution.arrow.pyspark.enabled": "true"}})
    return get_spark(settings, app_name=app_name)


def landing_feeds(landing: Path) -> dict[str, tuple[str, str]]:
    """feed_id -> (format, encoding) of every landing folder that has a schema."""
    from regulake.feeds import load_feed

    feeds = {}
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        try:
            schema = load_feed(folder.name)
        except Exception:  # noqa: BLE001 - not a feed folder
            continue
        feeds[folder.name] = (schema.format, schema.encoding)
    return feeds


def warm_up(spark, landing: Path, lake: Path, feeds: dict[str, tuple[str, str]], batches: list[str]) -> None:
    """JVM start and warm-up are not copying: the smallest file of each feed goes through its reader
    and a Delta write first (class loading and JIT, which otherwise land on the first phase)."""
    for feed_id, (fmt, encoding) in feeds.items():
        files = sorted(data_files(landing, feed_id, fmt, batches), key=lambda p: p.stat().st_size)
        frame = read_feed(spark, fmt, encoding, files[:1]) if files else None
        if frame is not None and frame.columns:
            frame.write.format("delta").mode("overwrite").save(str(lake / "_warmup" / feed_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--batches", required=True, help="comma-separated batch folders of the full phase")
    parser.add_argument("--last", required=True, help="the batch folder the increment phase adds")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)

    from regulake.spark import stop_spark

    started = time.perf_counter()
    spark = floor_session(args.lake, "regulake-bench-floor")
    feeds = landing_feeds(args.landing)
    full = [b for b in args.batches.split(",") if b]
    warm_up(spark, args.landing, args.lake, feeds, full)
    startup = round(time.perf_counter() - started, 2)
    result = {
        "startup_seconds": startup,
        "feeds": sorted(feeds),
        "phases": {
            "full": copy_phase(spark, args.landing, args.lake, feeds, full, "full", "overwrite"),
            "increment": copy_phase(spark, args.landing, args.lake, feeds, [args.last], "full", "append"),
            "all": copy_phase(spark, args.landing, args.lake, feeds, [*full, args.last], "all", "overwrite"),
        },
    }
    stop_spark()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps({k: {"seconds": v["seconds"], "rows_written": v["rows_written"]}
                      for k, v in result["phases"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
