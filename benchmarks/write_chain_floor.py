"""Write-chain floor: the least a bronze -> silver -> gold lake can cost, against the raw-copy floor.

    .venv/bin/python benchmarks/write_chain_floor.py --landing DIR --lake DIR \\
        --batches 20240131,20240229,20240331

One Spark process (the pipeline's session settings), three timed phases, the JVM start
and warm-up timed apart as in benchmarks/raw_copy_floor.py:

* bronze: the raw-copy floor itself (every data file parsed per feed, one Delta table each);
* silver: each bronze table read back, one content hash per row, exact duplicates dropped,
  written as a new Delta table (no normalisation, no gate, no versions, no MERGE);
* gold: each silver table read back and written again unchanged.

Nothing here checks, links, models or classifies anything, so the sum of the phases is a
lower bound for any pipeline that keeps the three layers the standard asks for. Prints one
JSON line (seconds per phase, the sum as a multiple of the bronze phase).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import raw_copy_floor as floor  # noqa: E402


def rewrite(spark, source: Path, target: Path, dedup: bool) -> None:
    from pyspark.sql import functions as F

    frame = spark.read.format("delta").load(str(source))
    if dedup:
        content = F.to_json(F.struct(*[F.col(f"`{c}`") for c in frame.columns]))
        frame = frame.withColumn("_content_hash", F.sha2(content, 256)).dropDuplicates(["_content_hash"])
    frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(target))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--batches", required=True, help="comma-separated batch folders")
    args = parser.parse_args(argv)

    from regulake.spark import stop_spark

    started = time.perf_counter()
    spark = floor.floor_session(args.lake, "regulake-bench-write-chain")
    batches = [b for b in args.batches.split(",") if b]
    feeds = floor.landing_feeds(args.landing)
    floor.warm_up(spark, args.landing, args.lake, feeds, batches)
    result = {"startup_seconds": round(time.perf_counter() - started, 2)}

    result["bronze"] = floor.copy_phase(spark, args.landing, args.lake, feeds, batches, "bronze", "overwrite")["seconds"]
    for layer, source, dedup in (("silver", "bronze", True), ("gold", "silver", False)):
        clock = time.perf_counter()
        for feed_id in feeds:
            if (args.lake / source / feed_id).is_dir():
                rewrite(spark, args.lake / source / feed_id, args.lake / layer / feed_id, dedup)
        result[layer] = round(time.perf_counter() - clock, 2)
    total = result["bronze"] + result["silver"] + result["gold"]
    result["chain_seconds"] = round(total, 2)
    result["chain_over_bronze"] = round(total / result["bronze"], 2) if result["bronze"] else None
    stop_spark()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
