"""regulake.lineage without Spark: naming, the stage recorder, the transport, the graph the report reads."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from regulake import lineage
from regulake.config import load_settings
from regulake.stage import StageContext

RUN = "manual__2026-12-01T08:00:00+00:00"


@pytest.fixture
def settings(tmp_path):
    return load_settings(lake_root=tmp_path / "lake", environ={})


def stage_events(settings, run_id: str = RUN) -> list[dict]:
    return lineage.read_events(f"{lineage.lineage_root(settings)}/runs/{lineage.run_key(run_id)}/stages.jsonl")


def event(kind: str, job: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]], at: str,
          run_id: str = RUN) -> dict:
    """A COMPLETE event as the lake's producers write it (datasets by namespace and name)."""
    return {"eventType": kind, "eventTime": at, "job": {"namespace": "regulake", "name": job},
            "run": {"runId": f"run-of-{job}-{at}", "facets": {"regulake": {"run_id": run_id}}},
            "inputs": [{"namespace": ns, "name": name} for ns, name in inputs],
            "outputs": [{"namespace": ns, "name": name} for ns, name in outputs]}


def test_a_table_is_named_by_its_location_and_found_again_by_it_or_by_its_symlink(settings):
    dataset = lineage.table_dataset(settings, "silver", "tax_credit")
    assert (dataset.namespace, dataset.name) == ("file", f"{settings.lake_root}/silver/tax_credit")
    assert lineage.table_of(settings, dataset.namespace, dataset.name) == "silver.tax_credit"
    assert lineage.table_of(settings, "file", "/elsewhere/silver/tax_credit") is None
    symlink = {"symlinks": {"identifiers": [{"namespace": "regulake", "name": "gold.dim_date", "type": "TABLE"}]}}
    assert lineage.table_of(settings, "spark://elsewhere", "whatever", symlink) == "gold.dim_date"
    assert lineage.table_of(settings, "file", f"{settings.lake_root}/_catalog/views") is None


def test_an_object_store_lake_uses_openlineage_s3_naming():
    settings = load_settings(lake_root="s3a://regulake-lake/prod", environ={})
    assert lineage.dataset_name("s3a://regulake-lake/prod/gold/dim_enterprise") == \
        ("s3://regulake-lake", "prod/gold/dim_enterprise")
    dataset = lineage.table_dataset(settings, "gold", "dim_enterprise")
    assert lineage.table_of(settings, dataset.namespace, dataset.name) == "gold.dim_enterprise"
    # Spark's file transport writes local files: on an object store only an HTTP endpoint gets Spark's events.
    assert lineage.spark_conf(settings) == {}
    with_endpoint = settings.with_overrides(**{"lineage.http_url": "http://127.0.0.1:5000"})
    assert lineage.spark_conf(with_endpoint)["spark.openlineage.transport.type"] == "http"


def test_a_stage_emits_start_then_complete_with_the_tables_it_read_and_wrote(settings):
    ctx = StageContext(settings=settings, run_id=RUN, as_of=date(2026, 12, 1), feed_id="tax_credit")
    with lineage.stage_run(ctx, "promotion"):
        lineage.read("bronze", "tax_credit")
        lineage.read("bronze", "tax_credit")
        lineage.wrote("silver", "tax_credit")
        lineage.read_location("/landing/tax_credit/20240131")
    lineage.read("gold", "not_recorded")  # outside a stage: nobody records

    start, complete = stage_events(settings)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["job"] == {"namespace": "regulake", "name": "promotion.tax_credit", "facets": {}}
    assert complete["run"]["facets"]["regulake"]["run_id"] == RUN
    assert [d["name"] for d in complete["inputs"]] == [f"{settings.lake_root}/bronze/tax_credit",
                                                       "/landing/tax_credit/20240131"]
    assert [d["facets"]["symlinks"]["identifiers"][0]["name"] for d in complete["outputs"]] == ["silver.tax_credit"]


def test_a_failing_stage_emits_fail_and_the_error_goes_on(settings):
    ctx = StageContext(settings=settings, run_id=RUN, as_of=date(2026, 12, 1))
    with pytest.raises(RuntimeError, match="boom"), lineage.stage_run(ctx, "risk"):
        lineage.wrote("gold", "enterprise_risk_class")
        raise RuntimeError("boom")
    assert [e["eventType"] for e in stage_events(settings)] == ["START", "FAIL"]
    assert lineage.builds(settings, stage_events(settings)) == {}  # a failed run built nothing


def test_with_lineage_off_nothing_is_written(settings):
    off = settings.with_overrides(**{"lineage.enabled": False})
    with lineage.stage_run(StageContext(settings=off, run_id=RUN, as_of=date(2026, 12, 1)), "risk"):
        lineage.wrote("gold", "enterprise_risk_class")
    assert not Path(lineage.lineage_root(off)).exists()
    assert lineage.airflow_environ(off) == {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    assert lineage.spark_conf(off) == {}


def test_the_providers_transport_files_an_event_under_the_lake_its_dag_run_names(tmp_path):
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.transport.factory import DefaultTransportFactory

    # Exactly what Airflow's provider does with AIRFLOW__OPENLINEAGE__TRANSPORT.
    config = json.loads(lineage.airflow_environ(load_settings(environ={}))["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    transport = DefaultTransportFactory().create(config)
    lake = tmp_path / "another-lake"
    transport.emit(RunEvent(
        eventType=RunState.COMPLETE, eventTime="2026-12-01T08:00:00+00:00", producer="test",
        job=Job(namespace="regulake", name="regulake_main.risk_classes"),
        run=Run(runId="01a24bf3-b534-7fa2-9482-aa3d12d36ff1", facets={"airflow": {"dagRun": {"conf": {"lake": str(lake)}}}})))
    # The DAG run's own event carries the conf in another facet.
    transport.emit(RunEvent(
        eventType=RunState.COMPLETE, eventTime="2026-12-01T08:10:00+00:00", producer="test",
        job=Job(namespace="regulake", name="regulake_main"),
        run=Run(runId="01a24bf3-b534-7fa2-9482-aa3d12d36ff2",
                facets={"airflowDagRun": {"dagRun": {"conf": {"lake": str(lake)}}}})))
    [written] = (lake / "_lineage" / "airflow").glob("*.jsonl")
    assert [json.loads(line)["job"]["name"] for line in written.read_text().splitlines()] == \
        ["regulake_main.risk_classes", "regulake_main"]


def test_a_gold_table_is_followed_back_through_every_build_to_its_feeds(settings):
    root = settings.lake_root
    events = [
        event("COMPLETE", "landing.tax_credit", [("file", "/landing/tax_credit/20240131")],
              [("file", f"{root}/bronze/tax_credit")], "2026-12-01T08:01:00Z"),
        event("COMPLETE", "promotion.tax_credit", [("file", f"{root}/bronze/tax_credit"),
                                                   ("file", f"{root}/audit/quarantine")],
              [("file", f"{root}/silver/tax_credit")], "2026-12-01T08:02:00Z"),
        event("COMPLETE", "promotion.samr_enterprise", [("file", f"{root}/bronze/samr_enterprise")],
              [("file", f"{root}/silver/samr_enterprise")], "2026-12-01T08:02:00Z"),
        event("COMPLETE", "regulake.fct_tax_credit", [("file", f"{root}/silver/tax_credit")],
              [("file", f"{root}/gold/fct_tax_credit")], "2026-12-01T08:03:00Z"),
        event("START", "risk", [], [], "2026-12-01T08:04:00Z"),
        event("COMPLETE", "risk", [("file", f"{root}/gold/fct_tax_credit"), ("file", f"{root}/gold/enterprise_risk_class")],
              [("file", f"{root}/gold/enterprise_risk_class")], "2026-12-01T08:05:00Z"),
    ]
    built = lineage.builds(settings, events)
    assert built["gold.enterprise_risk_class"]["inputs"] == ["gold.fct_tax_credit"]  # not itself (a MERGE reads it)
    assert built["bronze.tax_credit"]["locations"] == ["file:/landing/tax_credit/20240131"]
    assert lineage.upstream(built, "gold.enterprise_risk_class") == {
        "gold.fct_tax_credit", "silver.tax_credit", "bronze.tax_credit", "audit.quarantine"}
    assert lineage.source_feeds(built, "gold.enterprise_risk_class", ["tax_credit", "samr_enterprise"]) == \
        ["tax_credit"]


def test_the_tables_file_keeps_a_tables_last_build_across_runs(settings):
    root = settings.lake_root
    first, second = RUN, "manual__2026-12-02T08:00:00+00:00"
    for run_id, jobs in ((first, ["landing.tax_credit", "risk"]), (second, ["risk"])):
        folder = Path(lineage.lineage_root(settings)) / "runs" / lineage.run_key(run_id)
        folder.mkdir(parents=True)
        lines = []
        if "landing.tax_credit" in jobs:
            lines.append(event("COMPLETE", "landing.tax_credit", [], [("file", f"{root}/bronze/tax_credit")],
                               "2026-12-01T08:01:00Z", run_id))
        lines.append(event("COMPLETE", "risk", [("file", f"{root}/bronze/tax_credit")],
                           [("file", f"{root}/gold/enterprise_risk_class")], f"{run_id[8:18]}T08:05:00Z", run_id))
        (folder / "stages.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        tables = lineage.update_tables(settings, run_id)
    assert tables["gold.enterprise_risk_class"]["run_id"] == second
    assert tables["bronze.tax_credit"]["run_id"] == first  # not rebuilt by the second run: kept
    assert json.loads((Path(lineage.lineage_root(settings)) / "tables.json").read_text()) == tables


def test_dbt_names_are_renamed_to_the_lakes_locations_with_their_column_lineage(settings):
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    columns = cl.ColumnLineageDatasetFacet(fields={"risk_class": cl.Fields(inputFields=[
        cl.InputField(namespace="regulake", name="gold.enterprise_risk_class", field="risk_class")])})
    dbt_event = RunEvent(eventType=RunState.COMPLETE, eventTime="2026-12-01T08:03:00Z", producer="dbt",
                         job=Job(namespace="regulake", name="gold.regulake.pub_risk.build.run"),
                         run=Run(runId="01a24bf3-b534-7fa2-9482-aa3d12d36ff1"),
                         inputs=[InputDataset(namespace="regulake", name="gold.enterprise_risk_class")],
                         outputs=[OutputDataset(namespace="regulake", name="public.enterprise_risk_class",
                                                facets={"columnLineage": columns})])
    from openlineage.client.serde import Serde

    renamed = json.loads(Serde.to_json(lineage._lake_names(settings, dbt_event)))
    assert renamed["inputs"][0]["name"] == f"{settings.lake_root}/gold/enterprise_risk_class"
    built = lineage.builds(settings, [renamed])
    assert built["public.enterprise_risk_class"]["inputs"] == ["gold.enterprise_risk_class"]
    assert built["public.enterprise_risk_class"]["columns"] == {"risk_class": ["gold.enterprise_risk_class.risk_class"]}


def test_with_an_http_endpoint_every_event_is_also_posted_there(settings):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[tuple[str, dict]] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        posting = settings.with_overrides(**{"lineage.http_url": f"http://127.0.0.1:{server.server_port}"})
        with lineage.stage_run(StageContext(settings=posting, run_id=RUN, as_of=date(2026, 12, 1)), "risk"):
            lineage.wrote("gold", "enterprise_risk_class")
    finally:
        server.shutdown()
    assert [(path, body["eventType"]) for path, body in received] == [("/api/v1/lineage", "START"),
                                                                      ("/api/v1/lineage", "COMPLETE")]
    assert received[1][1]["outputs"][0]["name"].endswith("/gold/enterprise_risk_class")
    assert [e["eventType"] for e in stage_events(posting)] == ["START", "COMPLETE"]  # and the lake's file
