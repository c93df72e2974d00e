"""`regulake status` on tiny real lakes (Delta tables written with delta-rs): what it reads, without Spark.

The lakes are written with the audit tables' declared schemas (regulake.lake.AUDIT_TABLES), so a
column status reads that a real lake does not have fails here. One test starts Spark: the held-back
definition is written twice (jobs.silver.job on Spark, apps.status on rows) and must agree.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from apps import status
from regulake import delta_rows
from regulake.config import PROJECT_ROOT, Settings, load_settings
from regulake.stage_state import LAST_COMPLETE_RUN

RUN1, RUN2, RUN3 = "scheduled__2024-04-01", "manual__2024-04-02", "manual__2024-04-03"


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 4, day, hour, tzinfo=UTC)


def _arrow_type(kind):
    from pyspark.sql import types as T

    simple = {T.StringType: pa.string(), T.LongType: pa.int64(), T.IntegerType: pa.int32(),
              T.DoubleType: pa.float64(), T.BooleanType: pa.bool_(), T.TimestampType: pa.timestamp("us", tz="UTC")}
    if isinstance(kind, T.ArrayType):
        return pa.list_(_arrow_type(kind.elementType))
    if isinstance(kind, T.MapType):
        return pa.map_(_arrow_type(kind.keyType), _arrow_type(kind.valueType))
    return simple[type(kind)]


def audit_schema(table: str) -> pa.Schema:
    """The declared schema of audit.<table> (regulake.lake) in Arrow types."""
    from regulake.lake import AUDIT_TABLES

    return pa.schema([(f.name, _arrow_type(f.dataType)) for f in AUDIT_TABLES[table].schema.fields])


def append(settings: Settings, layer: str, table: str, rows: list[dict], schema: pa.Schema | None = None) -> None:
    """One commit of `rows` to <layer>.<table> (audit tables: their declared schema; missing keys null)."""
    schema = schema or audit_schema(table)
    data = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
    write_deltalake(settings.table_path(layer, table), data, mode="append")


def data_rows(n: int) -> list[dict]:
    return [{"record_key": f"k{i}"} for i in range(n)]


DATA = pa.schema([("record_key", pa.string())])


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(lake_root=tmp_path / "lake")


def log(feed: str, batch: str, state: str, delivery: str, rows: int = 10, location: str = "") -> dict:
    return {"feed_id": feed, "batch_date": batch, "status": state, "delivery_id": delivery, "manifest_rows": rows,
            "location": location or f"/landing/{feed}/{batch}", "mode": "incremental", "run_id": RUN1,
            "processed_at": at(1)}


def verdict(feed: str, batch: str, delivery: str, outcome: str, when: datetime) -> dict:
    return {"feed_id": feed, "batch_date": batch, "delivery_id": delivery, "outcome": outcome, "evaluated_at": when,
            "run_id": RUN1, "rows": 10, "rows_quarantined": 0}


GATE = [
    verdict("samr_penalty", "20240131", "p1", "promoted", at(1)),
    verdict("env_penalty", "20240229", "e1", "held", at(1)),  # released later: not held
    verdict("env_penalty", "20240229", "e1", "promoted", at(2)),
    verdict("env_penalty", "20240331", "e2", "promoted", at(1)),  # judged again under new rules: held
    verdict("env_penalty", "20240331", "e2", "held", at(2)),
    verdict("tax_credit", "20240331", "t1", "held", at(2)),
]


@pytest.fixture
def small_lake(tmp_path) -> Settings:
    """Two recorded runs (the second skipped three stages), a third that recorded a stage but never
    published, deliveries of three feeds, gate verdicts, a few data tables."""
    settings = settings_for(tmp_path)
    append(settings, "audit", "pipeline_run", [
        {"run_id": RUN1, "state": "success", "landing": "/landing", "as_of": "2024-03-31", "finished_at": at(1)},
        {"run_id": RUN2, "state": "held_back", "landing": "/landing", "as_of": "2024-03-31", "finished_at": at(2)}])
    append(settings, "audit", "stage_run",
           [{"stage": stage, "run_id": RUN1, "fingerprint": "f", "finished_at": at(1, 9)} for stage in status.STAGES]
           + [{"stage": stage, "run_id": RUN2, "fingerprint": "g", "finished_at": at(2, 9)}
              for stage in ("link_entities", "dbt_build")])
    append(settings, "audit", "stage_run",
           [{"stage": "link_entities", "run_id": RUN3, "fingerprint": "h", "finished_at": at(3, 9)}])
    append(settings, "audit", "delivery_log", [
        log("samr_penalty", "20240131", "loaded", "p1", rows=3), log("samr_penalty", "20240229", "loaded", "p2"),
        log("samr_penalty", "20240301", "rejected", "p3", rows=0),
        log("env_penalty", "20240229", "loaded", "e1"), log("env_penalty", "20240331", "loaded", "e2"),
        log("env_penalty", "20240331", "duplicate", "e2", location="/resend/env_penalty/20240331"),
        log("sentiment", "20240229", "incomplete", "s1", rows=None)])
    append(settings, "audit", "gate_result", GATE)
    append(settings, "silver", "samr_penalty", data_rows(3), DATA)
    append(settings, "silver", "samr_penalty", data_rows(2), DATA)
    append(settings, "silver", "env_penalty", data_rows(4), DATA)
    append(settings, "bronze", "samr_penalty", data_rows(6), DATA)
    append(settings, "gold", "fct_penalty", data_rows(7), DATA)
    return settings


def test_the_report_from_a_small_lake(small_lake):
    report = status.lake_status(small_lake)

    run = report["last_run"]
    assert (run["run_id"], run["state"], run["as_of"]) == (RUN2, "held_back", "2024-03-31")
    assert run["ran"] == ["link_entities", "dbt_build"]
    assert run["skipped"] == ["risk_classes", "inspection_plan", "scorecards"]
    assert run["silver_as_run_left_it"] is None
    assert report["unfinished_run"] == RUN3
    assert report["held"] == [["env_penalty", "20240331"], ["tax_credit", "20240331"]]

    feeds = {feed["feed_id"]: feed for feed in report["feeds"]}
    assert set(feeds) >= {"samr_penalty", "env_penalty", "sentiment", "samr_enterprise"}  # every known feed
    penalty = feeds["samr_penalty"]
    assert (penalty["latest_loaded"], penalty["age_days"]) == ("20240229", 31)  # at the last run's as-of
    assert penalty["deliveries"] == {"loaded": 2, "rejected": 1}
    assert penalty["silver_rows"] == 5  # two commits
    assert feeds["env_penalty"]["deliveries"] == {"duplicate": 1, "loaded": 2}
    assert (feeds["sentiment"]["latest_loaded"], feeds["sentiment"]["silver_rows"]) == (None, None)
    assert report["freshness_reference"] == "2024-03-31"

    assert report["deliveries"] == [
        {"status": "duplicate", "deliveries": 1, "manifest_rows": 10},
        {"status": "incomplete", "deliveries": 1, "manifest_rows": 0},
        {"status": "loaded", "deliveries": 4, "manifest_rows": 33},
        {"status": "rejected", "deliveries": 1, "manifest_rows": 0}]
    assert report["layers"]["silver"] == {"tables": 2, "rows": 9}
    assert report["layers"]["audit"] == {"tables": 4, "rows": 2 + 8 + 7 + 6}
    assert dict(report["tables"])["bronze.samr_penalty"] == 6
    json.dumps(report, default=str)  # --format json


def test_a_run_with_nothing_new_names_the_run_silver_is_from(tmp_path):
    settings = settings_for(tmp_path)
    append(settings, "silver", "samr_penalty", data_rows(3), DATA)
    append(settings, "audit", "pipeline_run", [
        {"run_id": RUN1, "state": "success", "as_of": "2024-03-31", "finished_at": at(1)},
        {"run_id": RUN2, "state": "success", "as_of": "2024-03-31", "finished_at": at(2)}])
    append(settings, "audit", "stage_run",
           [{"stage": stage, "run_id": RUN1, "fingerprint": "f", "finished_at": at(1, 9)} for stage in status.STAGES])
    complete = Path(settings.lake_root) / LAST_COMPLETE_RUN
    complete.parent.mkdir(parents=True)
    complete.write_text(json.dumps({"run_id": RUN1, "as_of": "2024-03-31", "silver": {"samr_penalty": 0}}))

    run = status.lake_status(settings)["last_run"]
    assert (run["run_id"], run["ran"], run["skipped"]) == (RUN2, [], list(status.STAGES))
    assert run["silver_as_run_left_it"] == RUN1

    append(settings, "silver", "samr_penalty", data_rows(1), DATA)  # silver moved on since
    assert status.lake_status(settings)["last_run"]["silver_as_run_left_it"] is None


def test_an_empty_lake(tmp_path):
    report = status.lake_status(settings_for(tmp_path), today=datetime(2024, 5, 1).date())
    assert report["last_run"] is None and report["held"] == [] and report["deliveries"] == []
    assert report["freshness_reference_is"] == "today" and report["freshness_reference"] == "2024-05-01"
    assert all(feed["latest_loaded"] is None for feed in report["feeds"])


def test_row_count_comes_from_the_log_else_from_the_data(tmp_path):
    settings = settings_for(tmp_path)
    append(settings, "silver", "samr_penalty", data_rows(3), DATA)
    append(settings, "silver", "samr_penalty", data_rows(4), DATA)
    uri = settings.table_path("silver", "samr_penalty")
    assert delta_rows.row_count(DeltaTable(uri)) == 7
    # A writer that records no stats: numRecords is missing from the log, the rows are counted.
    for commit in (Path(uri) / "_delta_log").glob("*.json"):
        actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
        for action in actions:
            action.get("add", {}).pop("stats", None)
        commit.write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    table = DeltaTable(uri)
    assert delta_rows.arrow(table.get_add_actions(flatten=True)).column("num_records").null_count == 2
    assert delta_rows.row_count(table) == 7


def test_the_status_command_is_compact_and_starts_no_spark(small_lake, monkeypatch):
    from typer.testing import CliRunner

    import regulake.spark
    from apps.cli import app

    def no_spark(*args, **kwargs):
        raise AssertionError("regulake status started Spark")

    monkeypatch.setattr(regulake.spark, "get_spark", no_spark)
    runner = CliRunner()
    result = runner.invoke(app, ["status", "--lake", small_lake.lake_root])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "silver.samr_penalty" in text and "silver.samr_enterprise" in text  # a line per known feed
    assert RUN2 in text and "risk_classes, inspection_plan, scorecards" in text
    assert "env_penalty/20240331, tax_credit/20240331" in text
    assert re.search(r"silver\.samr_penalty\s+5\s+20240229\s+31d\s+2\s+-\s+1\s+-", text), text
    assert "gold.fct_penalty" not in text
    lines = text.rstrip("\n").splitlines()
    known = len(status.lake_status(small_lake)["feeds"])
    assert len(lines) <= known + 12, text  # the feed table, and a few lines above it
    assert max(len(line) for line in lines[1:] if RUN2 not in line and RUN3 not in line) <= 80, text  # not Lake

    every = runner.invoke(app, ["status", "--lake", small_lake.lake_root, "--tables"])
    assert every.exit_code == 0 and re.search(r"gold\.fct_penalty\s+7", every.stdout), every.stdout
    as_json = runner.invoke(app, ["status", "--lake", small_lake.lake_root, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["last_run"]["run_id"] == RUN2


def test_the_stages_are_those_of_the_dag_that_record_their_runs():
    dag = (PROJECT_ROOT / "dags" / "regulake_main.py").read_text()
    chain = re.search(r"^\s*linked >> (.*)$", dag, re.M).group(1)
    assert re.findall(r"(\w+)\(\)", chain)[: len(status.STAGES) - 1] == list(status.STAGES[1:])
    assert "linked = link_entities(" in dag
    jobs = {"link_entities": "linking", "dbt_build": "dbt", "risk_classes": "risk",
            "inspection_plan": "inspection", "scorecards": "scorecards"}
    assert set(jobs) == set(status.STAGES)
    for stage, job in jobs.items():  # each records audit.stage_run under exactly this name
        source = (PROJECT_ROOT / "jobs" / job / "job.py").read_text()
        assert f'"{stage}"' in source and "stage_state.record(" in source, job


def test_s3a_lakes_get_object_store_options(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(lake_root="s3a://lake/regulake").with_overrides(spark={"conf": {
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:8333", "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.access.key": "AK", "spark.hadoop.fs.s3a.secret.key": "SK"}})
    assert delta_rows.storage_options(settings) == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:8333", "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": "SK", "AWS_REGION": "us-east-1"}
    assert delta_rows.delta_options({"endpoint_override": "s3.example.com", "scheme": "https"}) == {
        "AWS_ENDPOINT_URL": "https://s3.example.com"}
    assert delta_rows.storage_options(load_settings(lake_root="/tmp/lake")) == {}
    assert delta_rows.delta_uri("s3a://lake/regulake/silver/t") == "s3://lake/regulake/silver/t"


def test_held_back_agrees_with_the_silver_job(spark, tmp_path):
    """The one definition, written twice: the latest verdict of each delivery is `held`."""
    from jobs.silver.job import held_deliveries

    settings = settings_for(tmp_path)
    append(settings, "audit", "gate_result", GATE)
    rows = delta_rows.read_rows(settings, "audit", "gate_result",
                            ("feed_id", "batch_date", "delivery_id", "outcome", "evaluated_at"))
    assert status.held_back(rows) == held_deliveries(spark, settings) == [
        ("env_penalty", "20240331"), ("tax_credit", "20240331")]
