"""Orchestration of `generate`: delivery plan, population chunks, worker processes, manifests, truth.

The parent process plans which deliveries will carry delivery-level defects (so records of
a rejected delivery can be re-sent in the next batch), builds the population chunk by chunk
(names are unique province-wide), and hands each chunk to a worker that writes part
`part-<chunk+1>` of every delivery and its truth rows. Manifests are written last, after
every part of a delivery exists, as departments do.
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import create_model

from regulake.config import StrictModel, check_conf, conf_file

from . import feeds as F
from . import global_feeds as G
from .population import Population, PopulationBuilder, active_at, status_at
from .shaping import ShapeContext, Shaped, shape
from .specs import FEED_IDS, FEEDS, delivery_mode
from .timeline import DAY, add_months, batch_dates, to_seconds
from .writer import TRUTH_SCHEMA, FileLayout, WrittenFile, manifest_json, truth_columns, write_part

REJECTING = {"wrong_sha256", "wrong_row_count", "missing_required_column", "missing_file",
             "manifest_invalid_json", "manifest_wrong_feed"}


@dataclass
class GenerationSummary:
    """What `generate` wrote and how long it took."""

    out: Path
    enterprises: int
    batches: int
    seed: int
    batch_dates: list[str]
    deliveries: int
    files: int
    records: int
    records_by_feed: dict[str, int]
    seconds: float
    planted_deliveries: dict[str, str] = field(default_factory=dict)

    @property
    def landing(self) -> Path:
        return self.out / "landing"

    @property
    def truth(self) -> Path:
        return self.out / "truth"


# --- conf/generator.yaml's shape: an unknown key is an error naming file and key ----------
# Only checked: the generator reads the plain dict, as tests that pass their own do.

_DELIVERY_DEFECTS = Literal["wrong_sha256", "wrong_row_count", "missing_required_column", "missing_manifest",
                            "missing_file", "manifest_invalid_json", "manifest_wrong_feed"]
_HEADER_VARIANTS = Literal["header_order", "header_case", "header_extra_column"]


def _numbers(name: str, keys: str) -> type[StrictModel]:
    """A section of numbers (rates, counts), each key optional."""
    return create_model(name, __base__=StrictModel, **{key: (float | None, None) for key in keys.split()})


_FEED_KEYS = {
    "samr_annual_report": "first_report_year nonfile_base nonfile_risk correction",
    "samr_abnormal_list": "unreachable_per_year risk_weight other_reason removed",
    "samr_penalty": "per_year risk_weight serious_base serious_risk revoked fine_share",
    "samr_inspection": "per_year risk_weight other_dept",
    "tax_credit": "taxpayer_share old_tax_id rerated first_year",
    "hrss_social_insurance": "unit_share org_code_share history_months enter_base enter_risk stay",
    "env_penalty": "per_year risk_weight",
    "court_dishonest": "per_year risk_weight person_share person_unlinked removed",
    "hotline_12345": "per_year risk_weight history_months no_business unregistered open_then_closed",
    "sentiment": "per_year risk_weight history_months no_names two_names unregistered heat_update",
    "matter_catalog": "items added_per_batch changed_per_batch",
    "personnel": "base per_enterprise changed_per_batch",
    "coop_task_event": "tasks_per_year history_months no_subject late",
    "license": "per_year renew",
}
_FeedsConf = create_model(
    "_FeedsConf", __base__=StrictModel, keep_intra_delivery_versions=(float | None, None),
    **{feed: (_numbers(f"_{feed}Conf", keys) | None, None) for feed, keys in _FEED_KEYS.items()},
)


_VariantsConf = _numbers("_VariantsConf", "id_lowercase id_fullwidth id_padded text_padded region_fullwidth "
                        "date_other_format timestamp_other_format amount_suffix industry_other_form "
                        "enum_other_form status_zaiye list_other_separator org_code_hyphen boolean_other_form "
                        "jsonl_amount_string")
_DefectsConf = _numbers("_DefectsConf", "parse_error encoding_error missing_required invalid_key invalid_value "
                        "optional_invalid check_digit duplicate_within duplicate_across broken_quote_files")
_NamesConf = _numbers("_NamesConf", "exact drop_region legal_form branch abbreviation homophone traditional decoy twin "
                      "trade_only owner_shop lookalike")


class _RunConf(StrictModel):
    chunk_size: int | None = None
    workers: int | None = None
    cutoff_hour: int | None = None
    history_start: str | None = None


class _PopulationConf(StrictModel):
    ent_type: dict[str, float] | None = None
    first_year: int | None = None
    year_growth: float | None = None
    new_per_month: float | None = None
    reform_date: str | None = None
    old_ids_delivered: float | None = None
    legal_rep_ric_missing: float | None = None
    reg_capital_missing: float | None = None
    twin_rate: float | None = None
    updates_per_year: float | None = None
    status_final: dict[Literal["low", "high"], dict[str, float]] | None = None


class _RiskConf(StrictModel):
    beta: list[float] | None = None
    class_thresholds: list[float] | None = None
    problem_knots_x: list[float] | None = None
    problem_knots_y: list[float] | None = None
    future_inspection_share: float | None = None
    future_months: int | None = None


class _DeliveriesConf(StrictModel):
    from_batch: int | None = None
    defects: list[_DELIVERY_DEFECTS] | None = None
    defects_long_runs: list[_DELIVERY_DEFECTS] | None = None
    header_variants: list[_HEADER_VARIANTS] | None = None
    resend_duplicate: int | None = None


class _GeneratorFile(StrictModel):
    run: _RunConf | None = None
    population: _PopulationConf | None = None
    risk: _RiskConf | None = None
    feeds: _FeedsConf | None = None
    variants: _VariantsConf | None = None
    defects: _DefectsConf | None = None
    names: _NamesConf | None = None
    deliveries: _DeliveriesConf | None = None


def load_generator_config(path: Path | None = None) -> dict:
    path = path or conf_file("generator.yaml")
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    check_conf(_GeneratorFile, raw, path)
    return raw


@dataclass
class DeliveryPlan:
    status: dict = field(default_factory=dict)        # (feed, b) -> loaded | rejected | incomplete
    defect: dict = field(default_factory=dict)        # (feed, b) -> planted delivery defect / header variant
    layout: dict = field(default_factory=dict)        # (feed, b) -> FileLayout
    resend: list = field(default_factory=list)        # [(feed, b)] re-sent identically


def plan_deliveries(cfg: dict, batches: int, seed: int) -> DeliveryPlan:
    """Deterministic, rare delivery-level defects: at most one per feed, from `from_batch` on,
    never in the last batch when there is a later one to re-send into."""
    plan = DeliveryPlan()
    dcfg = cfg["deliveries"]
    rng = np.random.default_rng([seed, 99])
    last = batches - 1 if batches >= 3 else batches
    incremental = [f for f in FEED_IDS if "full" not in FEEDS[f].modes]
    candidates = [(f, b) for f in incremental for b in range(int(dcfg["from_batch"]), last)]
    order = rng.permutation(len(candidates)).tolist()
    used_feeds: set[str] = set()
    kinds = list(dcfg["defects"]) + (list(dcfg.get("defects_long_runs", [])) if batches >= 4 else [])
    kinds += list(dcfg["header_variants"])
    for pos in order:
        if not kinds:
            break
        feed_id, b = candidates[pos]
        if feed_id in used_feeds:
            continue
        kind = kinds[0]
        feed = FEEDS[feed_id]
        if kind in ("missing_required_column", "header_order", "header_case", "header_extra_column") and feed.format != "csv":
            continue
        kinds.pop(0)
        used_feeds.add(feed_id)
        plan.defect[(feed_id, b)] = kind
        if kind in REJECTING:
            plan.status[(feed_id, b)] = "rejected"
        elif kind == "missing_manifest":
            plan.status[(feed_id, b)] = "incomplete"
        if kind == "missing_required_column":
            required = [c.name for c in feed.columns if c.required and c.name not in feed.key]
            plan.layout[(feed_id, b)] = FileLayout(drop_column=required[int(rng.integers(0, len(required)))])
        elif kind == "header_order":
            plan.layout[(feed_id, b)] = FileLayout(order=tuple(rng.permutation(len(feed.columns)).tolist()))
        elif kind == "header_case":
            plan.layout[(feed_id, b)] = FileLayout(header_case=True)
        elif kind == "header_extra_column":
            plan.layout[(feed_id, b)] = FileLayout(extra_column=True)
    loaded = [(f, b) for f in incremental for b in range(1, batches) if (f, b) not in plan.defect]
    for pos in rng.permutation(len(loaded)).tolist()[: int(dcfg["resend_duplicate"])]:
        plan.resend.append(loaded[pos])
    return plan


@dataclass
class ChunkTask:
    out: Path
    chunk: int
    n_chunks: int
    seed: int
    cfg: dict
    batch_names: list[str]
    cutoffs: np.ndarray
    history_ts: int
    pop: Population
    plan: DeliveryPlan
    cert_pool: dict
    matters: dict


def _gen_feed(feed_id: str, pop: Population, ctx: F.FeedContext, rng: np.random.Generator, memo: dict):
    if feed_id == "samr_enterprise":
        return F.gen_samr_enterprise(pop, ctx, rng)
    if feed_id == "samr_annual_report":
        rec, memo["nonfilers"] = F.annual_reports(pop, ctx, rng)
        return rec
    if feed_id == "samr_abnormal_list":
        return F.gen_samr_abnormal_list(pop, ctx, rng, memo["nonfilers"])
    return {
        "samr_penalty": F.gen_samr_penalty, "samr_inspection": F.gen_samr_inspection, "tax_credit": F.gen_tax_credit,
        "hrss_social_insurance": F.gen_hrss, "env_penalty": F.gen_env_penalty, "court_dishonest": F.gen_court,
        "hotline_12345": F.gen_hotline, "sentiment": F.gen_sentiment, "coop_task_event": F.gen_coop,
        "license": F.gen_license,
    }[feed_id](pop, ctx, rng)


def run_chunk(task: ChunkTask) -> dict:
    """Worker: every incremental feed of one chunk of enterprises -> part files + truth part."""
    # Millions of small lists and dicts live at once: the cyclic GC would rescan them again and
    # again (superlinear time); nothing here makes reference cycles, so it is paused.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_chunk(task)
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.collect()


def _run_chunk(task: ChunkTask) -> dict:
    ctx = F.FeedContext(task.cfg, task.chunk, task.n_chunks, task.history_ts, int(task.cutoffs[0]),
                        int(task.cutoffs[-1]), task.cert_pool, task.matters)
    sctx = ShapeContext(task.cfg, len(task.batch_names), task.cutoffs, task.plan.status)
    files: dict[tuple[str, int], WrittenFile] = {}
    counts: dict[str, int] = {}
    memo: dict = {}
    parts_dir = task.out / "truth" / "_parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for feed_no, feed_id in enumerate(F.CHUNK_FEEDS):
        started = time.perf_counter()
        rng = np.random.default_rng([task.seed, 3, task.chunk, feed_no])
        rec = _gen_feed(feed_id, task.pop, ctx, rng, memo)
        shaped = shape(rec, sctx, rng)
        del rec
        name = f"part-{task.chunk + 1:04d}.{FEEDS[feed_id].file_extension}"
        written, truth = write_feed(task.out, shaped, task.batch_names, name, task.plan, task.cfg, rng)
        files.update(written)
        counts[feed_id] = sum(f.rows for f in written.values())
        pq.write_table(pa.table(truth, schema=TRUTH_SCHEMA), parts_dir / f"records-{feed_id}-{task.chunk:05d}.parquet")
        timings[feed_id] = time.perf_counter() - started
    return {"files": files, "counts": counts, "timings": timings}


def write_feed(out: Path, shaped: Shaped, batch_names: list[str], file_name: str, plan: DeliveryPlan, cfg: dict,
               rng: np.random.Generator) -> tuple[dict, dict]:
    """Write one part per batch for a shaped feed; returns files and truth columns."""
    feed_id = shaped.feed.feed_id
    by_batch: dict[int, list[int]] = defaultdict(list)
    for i, b in enumerate(shaped.batch.tolist()):
        by_batch[b].append(i)
    written: dict[tuple[str, int], WrittenFile] = {}
    truth: dict[str, list] = {f.name: [] for f in TRUTH_SCHEMA}
    broken = float(cfg["defects"]["broken_quote_files"])
    for b, batch_name in enumerate(batch_names):
        rows_idx = by_batch.get(b, [])
        layout = plan.layout.get((feed_id, b), FileLayout())
        path = out / "landing" / feed_id / batch_name / file_name
        info, defects = write_part(path, shaped, rows_idx, layout, rng, broken)
        written[(feed_id, b)] = info
        loaded = plan.status.get((feed_id, b), "loaded") == "loaded"
        part = truth_columns(shaped, rows_idx, defects, batch_name, file_name, loaded)
        for k, v in part.items():
            truth[k].extend(v)
    return written, truth


def _future_inspections(pop: Population, cfg: dict, end_ts: int, rng: np.random.Generator) -> dict:
    active = np.nonzero(active_at(pop, end_ts))[0]
    drawn = active[rng.random(len(active)) < float(cfg["risk"]["future_inspection_share"])]
    span = int(cfg["risk"]["future_months"] * 30.44 * DAY)
    when = end_ts + DAY + (rng.random(len(drawn)) * span).astype(np.int64)
    found = rng.random(len(drawn)) < F.problem_probability(pop.hidden_risk[drawn], cfg)
    return {"uscc": pop.uscc[drawn].tolist(),
            "inspection_date": (when // DAY).astype("datetime64[D]").tolist(),
            "problem_found": found.tolist()}


def _enterprise_truth(pop: Population, end_ts: int) -> dict:
    status = status_at(pop, end_ts)
    twin = [pop.uscc[j] if j >= 0 else None for j in pop.twin_of.tolist()]
    return {
        "uscc": pop.uscc.tolist(), "ent_name": pop.ent_name.tolist(), "region_code": pop.region_code.tolist(),
        "industry_code": pop.industry_code.tolist(), "status": status.tolist(), "key_field": pop.key_field.tolist(),
        "reg_no": [r or None for r in pop.reg_no.tolist()], "org_code": pop.org_code.tolist(),
        "legal_rep_name": pop.legal_rep_name.tolist(), "legal_rep_ric": pop.legal_rep_ric.tolist(),
        "hidden_risk": pop.hidden_risk.tolist(), "hidden_class": pop.hidden_class.tolist(),
        "ent_type": pop.ent_type.tolist(),
        "establish_date": (pop.establish_ts // DAY).astype("datetime64[D]").tolist(),
        "legal_rep_ric_delivered": pop.ric_delivered.tolist(),
        "old_ids_delivered": pop.old_ids_delivered.tolist(), "twin_of": twin,
    }


def generate(out: Path, enterprises: int, batches: int, seed: int, progress: bool = True,  # noqa: C901
             start_date: date = date(2024, 1, 31), *, config: dict | None = None,
             workers: int | None = None) -> GenerationSummary:
    """Write `batches` monthly deliveries of all 15 feeds for `enterprises` synthetic enterprises under
    `out/landing/`, identical re-sent deliveries under `out/landing_resend/`, and the truth under `out/truth/`."""
    started = time.perf_counter()
    if enterprises < 1 or batches < 1:
        raise ValueError("enterprises and batches must be >= 1")
    out = Path(out)
    cfg = config or load_generator_config()
    for sub in ("landing", "landing_resend", "truth", "generation.json"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
        elif (out / sub).exists():
            (out / sub).unlink()
    (out / "truth" / "_parts").mkdir(parents=True, exist_ok=True)
    days = batch_dates(start_date, batches)
    batch_names = [d.strftime("%Y%m%d") for d in days]
    cutoff_hour = int(cfg["run"]["cutoff_hour"])
    cutoffs = np.array([to_seconds(d, cutoff_hour) for d in days], dtype=np.int64)
    history_day = date.fromisoformat(str(cfg["run"]["history_start"]))
    if history_day >= days[0]:
        history_day = add_months(days[0], -24)
    history_ts = to_seconds(history_day)
    plan = plan_deliveries(cfg, batches, seed)
    sctx = ShapeContext(cfg, batches, cutoffs, plan.status)

    chunk_size = int(cfg["run"]["chunk_size"])
    n_chunks = max(1, -(-enterprises // chunk_size))
    n_workers = max(1, min(int(workers or cfg["run"]["workers"]), n_chunks))

    files: dict[tuple[str, int], list[WrittenFile]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    bar = _Progress(progress, enterprises)

    # Feeds that do not scale with chunks: written once as part-0001, before the chunks.
    bar.phase("personnel and matter catalogue")
    personnel, cert_pool = G.personnel(cfg, sctx, seed, enterprises, history_ts)
    matters = G.matter_codes(cfg)
    catalogue = G.matter_catalog(cfg, sctx, seed, history_ts)
    rng_global = np.random.default_rng([seed, 5])
    for shaped in (personnel, catalogue):
        name = f"part-0001.{shaped.feed.file_extension}"
        written, truth = write_feed(out, shaped, batch_names, name, plan, cfg, rng_global)
        for key, info in written.items():
            files[key].append(info)
        counts[shaped.feed.feed_id] += sum(f.rows for f in written.values())
        pq.write_table(pa.table(truth, schema=TRUTH_SCHEMA),
                       out / "truth" / "_parts" / f"records-{shaped.feed.feed_id}-global.parquet")

    builder = PopulationBuilder(seed, cfg, int(cutoffs[-1]), int(cutoffs[0]), batches)
    ent_writer: pq.ParquetWriter | None = None
    insp_writer: pq.ParquetWriter | None = None
    timings: dict[str, float] = defaultdict(float)

    def tasks():
        for c in range(n_chunks):
            start = c * chunk_size
            t0 = time.perf_counter()
            gc.disable()
            try:
                pop = builder.build(c, start, min(chunk_size, enterprises - start))
            finally:
                gc.enable()
            timings["population"] += time.perf_counter() - t0
            yield ChunkTask(out, c, n_chunks, seed, cfg, batch_names, cutoffs, history_ts, pop, plan, cert_pool, matters)

    def absorb(result: dict) -> None:
        for key, info in result["files"].items():
            files[key].append(info)
        for feed_id, k in result["counts"].items():
            counts[feed_id] += k
        for feed_id, t in result["timings"].items():
            timings[feed_id] += t

    bar.phase("enterprise chunks")
    pool = ProcessPoolExecutor(max_workers=n_workers) if n_workers > 1 else None
    try:
        pending: dict[Future, int] = {}
        for task in tasks():
            ent_table = pa.table(_enterprise_truth(task.pop, int(cutoffs[-1])))
            insp = pa.table(_future_inspections(task.pop, cfg, int(cutoffs[-1]),
                                                np.random.default_rng([seed, 4, task.chunk])),
                            schema=pa.schema([("uscc", pa.string()), ("inspection_date", pa.date32()),
                                              ("problem_found", pa.bool_())]))
            if ent_writer is None:
                ent_writer = pq.ParquetWriter(out / "truth" / "enterprises.parquet", ent_table.schema)
                insp_writer = pq.ParquetWriter(out / "truth" / "inspections_future.parquet", insp.schema)
            ent_writer.write_table(ent_table)
            insp_writer.write_table(insp)
            size = len(task.pop)
            if pool is None:
                absorb(run_chunk(task))
                bar.advance(size)
                continue
            pending[pool.submit(run_chunk, task)] = size
            del task
            while len(pending) > n_workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    absorb(fut.result())
                    bar.advance(pending.pop(fut))
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                absorb(fut.result())
                bar.advance(pending.pop(fut))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if ent_writer is not None:
            ent_writer.close()
        if insp_writer is not None:
            insp_writer.close()

    bar.phase("manifests and truth")
    deliveries = _write_manifests(out, files, batch_names, plan, seed)
    _merge_truth(out)
    pq.write_table(pa.Table.from_pylist(deliveries), out / "truth" / "deliveries.parquet")
    (out / "generation.json").write_text(json.dumps({
        "enterprises": enterprises, "batches": batches, "seed": seed, "seconds": round(time.perf_counter() - started, 1),
        "records_by_feed": dict(counts), "worker_seconds_by_feed": {k: round(v, 1) for k, v in timings.items()},
    }, indent=1, ensure_ascii=False))
    bar.close()
    n_files = sum(len(v) for v in files.values())
    return GenerationSummary(
        out=out, enterprises=enterprises, batches=batches, seed=seed, batch_dates=batch_names,
        deliveries=len(deliveries), files=n_files, records=sum(counts.values()), records_by_feed=dict(counts),
        seconds=time.perf_counter() - started,
        planted_deliveries={f"{f}/{batch_names[b]}": d for (f, b), d in plan.defect.items()},
    )


def _write_manifests(out: Path, files: dict, batch_names: list[str], plan: DeliveryPlan, seed: int) -> list[dict]:
    """Manifests last; delivery-level defects applied here. Returns the deliveries truth rows."""
    rng = np.random.default_rng([seed, 6])
    rows: list[dict] = []
    for feed_id in FEED_IDS:
        feed = FEEDS[feed_id]
        for b, batch_name in enumerate(batch_names):
            parts = sorted(files.get((feed_id, b), []), key=lambda f: f.name)
            mode = delivery_mode(feed, b)
            minute = int(rng.integers(0, 179))
            produced = f"{batch_name[:4]}-{batch_name[4:6]}-{batch_name[6:]}T{21 + minute // 60:02d}:{minute % 60:02d}:00+08:00"
            defect = plan.defect.get((feed_id, b))
            status = plan.status.get((feed_id, b), "loaded")
            manifest_files = list(parts)
            reason = None
            feed_in_manifest = feed_id
            if defect == "wrong_sha256":
                f0 = manifest_files[0]
                bad = hashlib.sha256(f0.sha256.encode()).hexdigest()
                manifest_files[0] = WrittenFile(f0.name, f0.rows, bad)
                reason = f"sha256 mismatch: {f0.name}"
            elif defect == "wrong_row_count":
                f0 = manifest_files[0]
                manifest_files[0] = WrittenFile(f0.name, f0.rows + 1, f0.sha256)
                reason = f"row count mismatch: {f0.name}"
            elif defect == "missing_file":
                missing = f"part-{len(parts) + 1:04d}.{feed.file_extension}"
                manifest_files.append(WrittenFile(missing, 1, hashlib.sha256(missing.encode()).hexdigest()))
                reason = f"listed file missing: {missing}"
            elif defect == "manifest_wrong_feed":
                feed_in_manifest = next(f for f in FEED_IDS if f != feed_id)
                reason = f"manifest names another feed: {feed_in_manifest}"
            elif defect == "missing_required_column":
                reason = f"missing required column: {plan.layout[(feed_id, b)].drop_column}"
            elif defect == "missing_manifest":
                reason = "no manifest.json"
            elif defect == "manifest_invalid_json":
                reason = "manifest.json is not valid JSON"
            elif defect == "header_order":
                reason = "header columns in another order"
            elif defect == "header_case":
                reason = "header names in another case, with spaces"
            elif defect == "header_extra_column":
                reason = "extra column: remark"
            text = manifest_json(feed_in_manifest, batch_name, mode, manifest_files, produced)
            if defect == "manifest_invalid_json":
                text = text.rstrip().rstrip("}")
            folder = out / "landing" / feed_id / batch_name
            folder.mkdir(parents=True, exist_ok=True)
            if defect != "missing_manifest":
                (folder / "manifest.json").write_text(text + "\n", encoding="utf-8")
            rows.append({"feed_id": feed_id, "batch_date": batch_name, "expected_status": status, "reason": reason,
                         "landing": "landing", "defect": defect, "mode": mode,
                         "rows": sum(f.rows for f in parts), "files": len(parts)})
    for feed_id, b in plan.resend:
        src = out / "landing" / feed_id / batch_names[b]
        dst = out / "landing_resend" / feed_id / batch_names[b]
        shutil.copytree(src, dst)
        rows.append({"feed_id": feed_id, "batch_date": batch_names[b], "expected_status": "duplicate",
                     "reason": "re-sent identical delivery", "landing": "landing_resend", "defect": "resent_duplicate",
                     "mode": "incremental", "rows": sum(f.rows for f in files[(feed_id, b)]),
                     "files": len(files[(feed_id, b)])})
    return rows


def _merge_truth(out: Path) -> None:
    """Stream the per-chunk truth parts into one records.parquet (bounded memory)."""
    parts_dir = out / "truth" / "_parts"
    parts = sorted(parts_dir.glob("records-*.parquet"),
                   key=lambda p: (FEED_IDS.index(p.stem.split("-")[1]), p.stem.split("-")[2]))
    with pq.ParquetWriter(out / "truth" / "records.parquet", TRUTH_SCHEMA) as writer:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches(batch_size=500_000):
                writer.write_batch(batch)
    shutil.rmtree(parts_dir)


class _Progress:
    """A rich progress bar over enterprises (no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.progress: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("[bold]generate[/] {task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn())
            self.progress.start()
            self.task = self.progress.add_task("enterprises", total=total)

    def phase(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=text)

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
