"""Landing benchmark: generate a landing, land every feed, report records/second and check the result.

    .venv/bin/python benchmarks/landing.py                       # 100,000 enterprises, 6 batches, seed 1
    .venv/bin/python benchmarks/landing.py --enterprises 2000    # a quick run
    .venv/bin/python benchmarks/landing.py --landing /work/shared/samples/landing   # no generation

Measures two figures: the Python parse pass alone (readers into a null sink, no
Spark) and the full `land_feed` per feed (parse + staging + Delta commits), then
checks the outcome against the generator's truth: every delivery's status, and
every parse-time quarantine entry (feed, batch, file, record number, reason).
Writes `benchmarks/results/landing.md`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from jobs.landing import job as landing_job  # noqa: E402
from jobs.landing.job import discover  # noqa: E402
from jobs.landing.manifest import parse_manifest  # noqa: E402
from jobs.landing.readers import READERS  # noqa: E402
from regulake import storage  # noqa: E402
from regulake.config import load_settings  # noqa: E402
from regulake.feeds import load_feed  # noqa: E402
from regulake.stage import StageContext  # noqa: E402

log = logging.getLogger("benchmarks.landing")
LANDING_STAGE_DEFECTS = {"parse_error", "encoding_error"}


class _NullSink:
    def add(self, *args) -> None:
        pass

    def quarantine(self, *args) -> None:
        pass


def _generate(out: Path, enterprises: int, batches: int, seed: int) -> float:
    from synth.generator import generate

    marker = out / "generation.json"
    wanted = {"enterprises": enterprises, "batches": batches, "seed": seed}
    if marker.exists():
        done = json.loads(marker.read_text())
        if all(done.get(k) == v for k, v in wanted.items()):
            log.info("reusing the landing generated in %s", out)
            return float("nan")
    started = time.perf_counter()
    generate(out, enterprises=enterprises, batches=batches, seed=seed, progress=False)
    return time.perf_counter() - started


def parse_only(landing: Path) -> tuple[int, float, int]:
    """(records, seconds, bytes) of reading every manifest-listed file with the readers, no Spark."""
    records = size = 0
    started = time.perf_counter()
    for feed_id in discover(str(landing)):
        schema = load_feed(feed_id)
        for folder in sorted((landing / feed_id).iterdir()):
            manifest_path = folder / "manifest.json"
            if not manifest_path.exists():
                continue
            try:
                manifest = parse_manifest(manifest_path.read_bytes(), feed_id)
            except ValueError:
                continue
            for entry in manifest.files:
                path = folder / entry.name
                if not path.exists():
                    continue
                size += path.stat().st_size
                opener = storage.open_seekable if schema.format == "xlsx" else storage.open_input
                with opener(str(path)) as stream:
                    records += READERS[schema.format](stream, schema, _NullSink()).records
    return records, time.perf_counter() - started, size


def verify(spark, settings, out: Path, results: list[dict]) -> list[str]:
    """Compare statuses and landing quarantine with the generator's truth; [] when all agree."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    problems: list[str] = []
    truth_dir = out / "truth"
    got = Counter()
    for result in results:
        for d in result["deliveries"]:
            got[(result["feed_id"], d["batch_date"], d["status"])] += 1
    if (truth_dir / "deliveries.parquet").exists():
        expected = Counter(
            (r["feed_id"], r["batch_date"], r["expected_status"])
            for r in pq.read_table(truth_dir / "deliveries.parquet").to_pylist()
        )
        for key in sorted(set(expected) | set(got)):
            if expected[key] != got[key]:
                problems.append(f"delivery {key}: expected {expected[key]}, got {got[key]}")
    log_rows = (spark.read.format("delta").load(settings.table_path("audit", "delivery_log"))
                .where("status = 'loaded'").collect())
    for row in log_rows:
        if row.rows_landed + row.rows_quarantined != row.manifest_rows:
            problems.append(f"{row.feed_id} {row.batch_date}: landed {row.rows_landed} + quarantined "
                            f"{row.rows_quarantined} != manifest {row.manifest_rows}")
    if (truth_dir / "records.parquet").exists():
        loaded = {(r.feed_id, r.batch_date) for r in log_rows}
        truth = pq.read_table(truth_dir / "records.parquet",
                              columns=["feed_id", "batch_date", "file_name", "record_no", "defect"])
        expected_q = {
            (r["feed_id"], r["batch_date"], r["file_name"], int(r["record_no"]), r["defect"])
            for r in truth.to_pylist()
            if r["defect"] in LANDING_STAGE_DEFECTS and (r["feed_id"], r["batch_date"]) in loaded
        }
        actual_q = {
            (r.feed_id, r.batch_date, r.file_name, r.record_no, r.reason_code)
            for r in spark.read.format("delta").load(settings.table_path("audit", "quarantine"))
            .where(F.col("stage") == "landing").collect()
        }
        for item in sorted(expected_q - actual_q)[:20]:
            problems.append(f"not quarantined: {item}")
        for item in sorted(actual_q - expected_q)[:20]:
            problems.append(f"quarantined but not planted: {item}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/regulake-bench-landing"))
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--landing", type=Path, help="land this folder instead of generating one")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / "landing.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    generation_seconds = None
    if args.landing:
        landing_roots = [args.landing]
        out = args.landing.parent
    else:
        generation_seconds = _generate(args.out, args.enterprises, args.batches, args.seed)
        out = args.out
        landing_roots = [p for p in (out / "landing", out / "landing_resend") if p.is_dir()]

    parsed_records, parse_seconds, parsed_bytes = parse_only(landing_roots[0])

    lake = out / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    settings = load_settings(lake_root=lake).with_overrides(
        spark={"master": args.master, "conf": {"spark.sql.shuffle.partitions": "2"}})
    from regulake.spark import get_spark, stop_spark

    spark = get_spark(settings, app_name="bench-landing")
    spark.range(1).collect()  # JVM warm-up is not landing time

    results: list[dict] = []
    timings: dict[str, float] = {}
    for root in landing_roots:
        started = time.perf_counter()
        for feed_id in discover(str(root)):
            results.append(landing_job.run(StageContext(settings, f"bench-{root.name}", date.today(), landing_root=str(root), feed_id=feed_id, session=spark)))
        timings[root.name] = time.perf_counter() - started
    problems = verify(spark, settings, out, results)
    stop_spark()

    main_results = [r for r in results if r["run_id"] == f"bench-{landing_roots[0].name}"]
    records = sum(r["rows_landed"] + r["rows_quarantined"] for r in main_results)
    land_seconds = timings[landing_roots[0].name]
    report = _markdown(args, generation_seconds, landing_roots, parsed_records, parse_seconds, parsed_bytes,
                       main_results, results, records, land_seconds, timings, problems)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(report, encoding="utf-8")
    print(report)
    return 1 if problems else 0


def _markdown(args, generation_seconds, landing_roots, parsed_records, parse_seconds, parsed_bytes,
              main_results, results, records, land_seconds, timings, problems) -> str:
    statuses = Counter(d["status"] for r in results for d in r["deliveries"])
    load = os.getloadavg()
    source = (f"`synth.generator.generate(out, enterprises={args.enterprises:,}, batches={args.batches}, "
              f"seed={args.seed})`" if not args.landing else f"`{args.landing}`")
    lines = [
        "# Landing benchmark",
        "",
        f"Run {datetime.now():%Y-%m-%d %H:%M} with `benchmarks/landing.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Spark `{args.master}`; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared).",
        "",
        f"* Landing: {source}" + (f", generated in {generation_seconds:.1f} s" if generation_seconds
                                   and generation_seconds == generation_seconds else ""),
        f"* Deliveries judged: {sum(statuses.values())} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})",
        f"* Records landed (bronze + parse-time quarantine) from `{landing_roots[0].name}`: **{records:,}**",
        "",
        "| measure | seconds | records/s |",
        "|---|---:|---:|",
        f"| parse only (Python readers, no Spark; {parsed_bytes / 1e6:.1f} MB) | {parse_seconds:.1f} | "
        f"{parsed_records / parse_seconds:,.0f} |",
        f"| `land_feed` over all feeds (parse, stage, Delta commits) | {land_seconds:.1f} | "
        f"**{records / land_seconds:,.0f}** |",
    ]
    for name, seconds in timings.items():
        if name != landing_roots[0].name:
            lines.append(f"| `land_feed` over `{name}` (re-sent copies: duplicates, no bronze write) | "
                         f"{seconds:.1f} | |")
    lines += ["", "Per feed (main landing root):", "",
              "| feed | deliveries | bronze rows | quarantined | seconds | records/s |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in sorted(main_results, key=lambda r: -r["seconds"]):
        n = r["rows_landed"] + r["rows_quarantined"]
        kinds = Counter(d["status"] for d in r["deliveries"])
        lines.append(f"| {r['feed_id']} | {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))} | "
                     f"{r['rows_landed']:,} | {r['rows_quarantined']:,} | {r['seconds']:.1f} | "
                     f"{n / r['seconds']:,.0f} |")
    lines += ["", "Checks against the generator's truth (`truth/deliveries.parquet`, `truth/records.parquet`):", ""]
    if problems:
        lines += [f"* FAILED: {p}" for p in problems]
    else:
        lines += ["* every delivery has its expected status (loaded / rejected / incomplete / duplicate);",
                  "* every loaded delivery: bronze rows + parse-time quarantine = manifest rows;",
                  "* the landing quarantine is exactly the planted `parse_error` / `encoding_error` records "
                  "(feed, batch, file, record number, reason)."]
    lines += ["", "Where the time goes: a `land_feed` call costs a fixed 3-4 Delta operations (read the log, one "
              "bronze append, the quarantine write, the log append), a few seconds on this shared machine "
              "whatever the size; the Python parse is the part that grows with the records.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
