"""OpenLineage for the lake: which run built each table, and from what (数据血缘).

Four producers write OpenLineage run events under `<lake>/_lineage/` (and to `lineage.http_url`
too, when one is configured):

* `airflow/`: Airflow's OpenLineage provider, one event pair per task and per DAG run. The provider's
  transport is `LakeTransport`, which files each event under the lake its DAG run's `lake` param names.
* `runs/<run>/stages.jsonl`: every stage (`stage_run`): the tables it read and wrote through
  `regulake.lake`, recorded as it runs, as a child of its Airflow task's OpenLineage run.
* `runs/<run>/dbt.jsonl`: every dbt model and test of the build, from dbt's artifacts by openlineage-dbt
  (`emit_dbt`), children of the dbt stage's run; with column lineage parsed from the compiled SQL.
* `spark/`: the openlineage-spark listener, one event pair per Spark query (`spark_conf`); on an
  object-store lake only when an HTTP endpoint is configured (its file transport writes local files).

Every producer names a lake table the same way (OpenLineage's naming: namespace `file` and the
table's absolute path, or `s3://bucket` and its key), with a symlink to `<layer>.<table>`, so their
events join into one graph. The run report's lineage view reads only the run's own `runs/<run>/`
files and keeps the latest build of each table in `_lineage/tables.json` (`update_tables`), so its
cost follows the run, not the lake's history.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr

from regulake import storage

if TYPE_CHECKING:
    from regulake.config import Settings
    from regulake.stage import StageContext

log = logging.getLogger(__name__)

LINEAGE_DIR = "_lineage"
TABLES_FILE = "tables.json"
SPARK_LISTENER = "io.openlineage.spark.agent.OpenLineageSparkListener"
PRODUCER = "https://github.com/regulake/regulake/tree/main/regulake/lineage.py"
# Layers whose tables the lineage view shows (audit and state tables are read by every stage).
DATA_LAYERS = ("bronze", "silver", "gold", "public")
_RUN_KEY = re.compile(r"[^A-Za-z0-9_.-]+")


def enabled(settings: Settings) -> bool:
    return settings.config.lineage.enabled


def lineage_root(settings: Settings) -> str:
    return f"{settings.lake_root}/{LINEAGE_DIR}"


def run_key(run_id: str) -> str:
    """A folder name for an Airflow run id (`manual__2026-12-06T10:00:00+00:00` has colons and a plus)."""
    return _RUN_KEY.sub("_", run_id)


# --- naming ----------------------------------------------------------------------------------------


def dataset_name(uri: str) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a storage location: `file` + absolute path, `s3://bucket` + key."""
    if "://" in uri and not uri.startswith("file:"):
        scheme, rest = uri.split("://", 1)
        bucket, _, key = rest.partition("/")
        scheme = "s3" if scheme in ("s3", "s3a", "s3n") else scheme
        return f"{scheme}://{bucket}", key.strip("/")
    path = uri.removeprefix("file://").removeprefix("file:")
    return "file", "/" + path.lstrip("/")


def table_of(settings: Settings, namespace: str, name: str, facets: Mapping[str, Any] | None = None) -> str | None:
    """`<layer>.<table>` of a dataset that is a table of this lake (by its location or its symlink)."""
    lake_namespace, lake_name = dataset_name(settings.lake_root)
    if namespace == lake_namespace:
        relative = name.removeprefix(lake_name.rstrip("/") + "/") if lake_name else name
        if relative != name or not lake_name:
            parts = relative.strip("/").split("/")
            if len(parts) >= 2 and not parts[0].startswith("_"):
                return f"{parts[0]}.{parts[1]}"
    for symlink in ((facets or {}).get("symlinks") or {}).get("identifiers") or []:
        if symlink.get("type") == "TABLE" and symlink.get("name", "").count(".") == 1:
            return symlink["name"]
    return None


def table_dataset(settings: Settings, layer: str, table: str, output: bool = False):
    """The OpenLineage dataset of lake table `<layer>.<table>` (with its catalog name as a symlink)."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import symlinks_dataset

    namespace, name = dataset_name(settings.table_path(layer, table))
    symlink = symlinks_dataset.SymlinksDatasetFacet(identifiers=[symlinks_dataset.Identifier(
        namespace=settings.config.lineage.namespace, name=f"{layer}.{table}", type="TABLE")])
    kind = OutputDataset if output else InputDataset
    return kind(namespace=namespace, name=name, facets={"symlinks": symlink})


# --- the transport ---------------------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    # LakeTransport subclasses openlineage's Transport, whose import takes ~0.4 s: regulake.lake imports this
    # module for its recording hooks, so the class is built on first use (Airflow's provider names it by path).
    if name == "LakeTransport":
        return _lake_transport_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _lake_transport_class() -> type:
    from openlineage.client.transport.transport import Config, Transport

    @attr.define
    class LakeTransportConfig(Config):
        # Our emitters pass their settings; Airflow's provider passes none (the run's `lake` param decides).
        settings: Any = None
        # The stream under _lineage/ (a run's own file for ours); none: airflow/<day>.jsonl (the provider's).
        path: str | None = None

        @classmethod
        def from_dict(cls, params: dict[str, Any]) -> LakeTransportConfig:
            return cls(settings=params.get("settings"), path=params.get("path"))

    class LakeTransport(Transport):
        """OpenLineage events as JSON lines in the lake (and to `lineage.http_url` when set).

        Configured without a lake (Airflow's provider: `{"type": "regulake.lineage.LakeTransport"}`), an
        event goes to the lake its DAG run's `lake` param names (the run's conf), else the configured lake.
        On a local lake a stream is one JSON-lines file appended to; on an object store, one object per event.
        """

        kind = "regulake"
        config_class = LakeTransportConfig
        _lock = threading.Lock()

        def __init__(self, config: LakeTransportConfig) -> None:
            self.config = config
            self._http: dict[str, Any] = {}

        def emit(self, event: Any) -> None:
            from openlineage.client.serde import Serde

            line = Serde.to_json(event)
            settings = self._settings(json.loads(line))
            if not enabled(settings):
                return
            self._write(settings, line)
            if settings.config.lineage.http_url:
                self._http_transport(settings).emit(event)

        def _settings(self, event: dict) -> Settings:
            from regulake.config import load_settings

            if self.config.settings is not None:
                return self.config.settings
            # A task's event has the `airflow` run facet, a DAG run's `airflowDagRun`: both hold the run's conf.
            facets = (event.get("run") or {}).get("facets") or {}
            dag_run = (facets.get("airflow") or facets.get("airflowDagRun") or {}).get("dagRun") or {}
            lake = (dag_run.get("conf") or {}).get("lake")
            return load_settings(lake_root=lake) if lake else load_settings()

        def _write(self, settings: Settings, line: str) -> None:
            stream = self.config.path or f"airflow/{datetime.now(UTC):%Y-%m-%d}.jsonl"
            target = f"{lineage_root(settings)}/{stream}"
            if settings.is_local_lake:
                path = Path(target.removeprefix("file://"))
                path.parent.mkdir(parents=True, exist_ok=True)
                with self._lock, path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            else:
                storage.write_text(f"{target.removesuffix('.jsonl')}/{time.time_ns()}-{os.getpid()}.json", line + "\n")

        def _http_transport(self, settings: Settings):
            from openlineage.client.transport.http import HttpConfig, HttpTransport

            cfg = settings.config.lineage
            if cfg.http_url not in self._http:
                self._http[cfg.http_url] = HttpTransport(HttpConfig(url=cfg.http_url, endpoint=cfg.http_endpoint))
            return self._http[cfg.http_url]

    LakeTransport.__module__ = LakeTransportConfig.__module__ = __name__
    return LakeTransport


def client(settings: Settings, path: str):
    """An OpenLineage client writing to `<lake>/_lineage/<path>` (and the HTTP endpoint, when configured)."""
    from openlineage.client import OpenLineageClient

    transport_class = _lake_transport_class()
    transport = transport_class(transport_class.config_class(settings=settings, path=path))
    return OpenLineageClient(transport=transport)


def airflow_environ(settings: Settings) -> dict[str, str]:
    """Airflow's OpenLineage provider: our transport, our namespace; emission in a thread, not a fork of a
    process that holds a JVM. With lineage off, the provider is disabled."""
    if not enabled(settings):
        return {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": f"{__name__}.LakeTransport"}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": settings.config.lineage.namespace,
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }


# --- Spark -----------------------------------------------------------------------------------------


def spark_conf(settings: Settings, listeners: str = "") -> dict[str, str]:
    """The openlineage-spark listener's conf: events to `<lake>/_lineage/spark/` (a local lake) or to the HTTP
    endpoint; nothing when lineage or the listener is off, or an object-store lake has no endpoint."""
    cfg = settings.config.lineage
    if not (cfg.enabled and cfg.spark_listener) or not (settings.is_local_lake or cfg.http_url):
        return {}
    conf = {
        "spark.extraListeners": ",".join(filter(None, [*listeners.split(","), SPARK_LISTENER])),
        "spark.openlineage.namespace": cfg.namespace,
        # The plan facet repeats the whole logical plan in every event; the unknown facet lists what
        # the listener could not map. Neither helps a reader of the lineage.
        "spark.openlineage.facets.spark.logicalPlan.disabled": "true",
        "spark.openlineage.facets.spark_unknown.disabled": "true",
        "spark.openlineage.facets.debug.disabled": "true",
    }
    if cfg.http_url:
        conf |= {"spark.openlineage.transport.type": "http", "spark.openlineage.transport.url": cfg.http_url,
                 "spark.openlineage.transport.endpoint": "/" + cfg.http_endpoint.lstrip("/")}
    else:
        folder = Path(lineage_root(settings).removeprefix("file://")) / "spark"
        folder.mkdir(parents=True, exist_ok=True)
        conf |= {"spark.openlineage.transport.type": "file",
                 "spark.openlineage.transport.location":
                     str(folder / f"{datetime.now(UTC):%Y-%m-%dT%H%M%S}-{os.getpid()}.jsonl")}
    conf |= {f"spark.openlineage.{key}": value for key, value in _airflow_parent_conf().items()}
    return conf


def _airflow_parent_conf() -> dict[str, str]:
    """The Spark application is a child of the Airflow DAG run that started it (one session serves every
    task of a `regulake run`)."""
    parent = airflow_parent()
    if parent is None:
        return {}
    return {"parentJobNamespace": parent.root_namespace, "parentJobName": parent.root_job,
            "parentRunId": parent.root_run_id, "rootParentJobNamespace": parent.root_namespace,
            "rootParentJobName": parent.root_job, "rootParentRunId": parent.root_run_id}


# --- stages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AirflowParent:
    """The OpenLineage run of the Airflow task a stage runs in, and of its DAG run (the provider's ids)."""

    namespace: str
    job: str
    run_id: str
    root_namespace: str
    root_job: str
    root_run_id: str


def airflow_parent() -> AirflowParent | None:
    """The running Airflow task's OpenLineage run, as the provider names it; None outside a task."""
    if "airflow.sdk" not in sys.modules:
        return None  # not inside Airflow: importing it would only cost seconds and set up its logging
    try:
        from airflow.providers.openlineage.plugins import macros
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        return AirflowParent(namespace=macros.lineage_job_namespace(), job=macros.lineage_job_name(ti),
                             run_id=macros.lineage_run_id(ti), root_namespace=macros.lineage_root_job_namespace(ti),
                             root_job=macros.lineage_root_job_name(ti), root_run_id=macros.lineage_root_run_id(ti))
    except Exception:  # noqa: BLE001 - no Airflow, no provider, or not inside a task
        return None


@dataclass
class StageLineage:
    """The lake tables one stage read and wrote (filled by regulake.lake while the stage runs)."""

    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    locations: set[str] = field(default_factory=set)


_current: StageLineage | None = None  # module-wide: the stage's worker threads record too


def read(layer: str, table: str) -> None:
    if _current is not None:
        _current.inputs.setdefault(f"{layer}.{table}", (layer, table))


def wrote(layer: str, table: str) -> None:
    if _current is not None:
        _current.outputs.setdefault(f"{layer}.{table}", (layer, table))


def read_location(uri: str) -> None:
    """A file location a stage read (a delivery folder of the landing root)."""
    if _current is not None:
        _current.locations.add(uri)


def _parent_facet(parent: AirflowParent):
    from openlineage.client.facet_v2 import parent_run

    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent.run_id), job=parent_run.Job(namespace=parent.namespace, name=parent.job),
        root=parent_run.Root(run=parent_run.RootRun(runId=parent.root_run_id),
                             job=parent_run.RootJob(namespace=parent.root_namespace, name=parent.root_job)))


@contextmanager
def stage_run(ctx: StageContext, stage: str) -> Iterator[StageLineage | None]:
    """Record the tables the stage reads and writes, and emit its OpenLineage run (START, then COMPLETE
    with them, or FAIL) to `<lake>/_lineage/runs/<run>/stages.jsonl`."""
    global _current
    settings = ctx.settings
    if not enabled(settings):
        yield None
        return
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.uuid import generate_new_uuid

    emitter = client(settings, f"runs/{run_key(ctx.run_id)}/stages.jsonl")
    parent = airflow_parent()
    facets: dict[str, Any] = {"regulake": _regulake_facet_class()(run_id=ctx.run_id, stage=stage, feed_id=ctx.feed_id)}
    if parent is not None:
        facets["parent"] = _parent_facet(parent)
    run = Run(runId=str(generate_new_uuid()), facets=facets)
    job = Job(namespace=settings.config.lineage.namespace, name=stage + (f".{ctx.feed_id}" if ctx.feed_id else ""))

    def event(state, inputs=(), outputs=()):
        return RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(), run=run, job=job,
                        producer=PRODUCER, inputs=list(inputs), outputs=list(outputs))

    _safe_emit(emitter, event(RunState.START))
    recorder, previous = StageLineage(), _current
    _current = recorder
    try:
        yield recorder
    except BaseException:
        _safe_emit(emitter, event(RunState.FAIL))
        raise
    finally:
        _current = previous
    inputs = [table_dataset(settings, *t) for t in recorder.inputs.values()]
    inputs += [InputDataset(*dataset_name(uri)) for uri in sorted(recorder.locations)]
    outputs = [table_dataset(settings, *t, output=True) for t in recorder.outputs.values()]
    _safe_emit(emitter, event(RunState.COMPLETE, inputs, outputs))


@functools.cache
def _regulake_facet_class() -> type:
    """The custom run facet `regulake`: which regulake run, stage and feed an event belongs to."""
    from openlineage.client.generated.base import RunFacet

    @attr.define
    class RegulakeRunFacet(RunFacet):
        run_id: str
        stage: str
        feed_id: str | None = None

        @staticmethod
        def _get_schema() -> str:
            return "https://github.com/regulake/regulake/blob/main/docs/LINEAGE.md#the-regulake-run-facet"

    return RegulakeRunFacet


def _safe_emit(emitter, event) -> None:
    """Lineage never fails a run: a failed write is logged."""
    try:
        emitter.emit(event)
    except Exception as failed:  # noqa: BLE001
        log.warning("OpenLineage event of %s not written: %s", event.job.name, failed)


# --- dbt -------------------------------------------------------------------------------------------


def emit_dbt(settings: Settings, run_id: str, project_dir: Path, target: Path) -> int:
    """The dbt build's models and tests as OpenLineage events (openlineage-dbt reads manifest.json and
    run_results.json), children of the dbt stage's Airflow task; returns how many were written."""
    if not enabled(settings):
        return 0
    from openlineage.common.provider.dbt.facets import ParentRunMetadata
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor

    class LakeDbtProcessor(DbtLocalArtifactProcessor):
        # dbt-spark's `method: session` (dbt inside the pipeline's SparkSession) has no host to name:
        # the lake's tables are renamed to their storage locations below anyway.
        def extract_namespace(self, profile: dict) -> str:
            return settings.config.lineage.namespace

    processor = LakeDbtProcessor(producer=PRODUCER, job_namespace=settings.config.lineage.namespace,
                                 project_dir=str(project_dir), target_path=str(target), skip_errors=True,
                                 logger=log)
    parent = airflow_parent()
    if parent is not None:
        processor.dbt_run_metadata = ParentRunMetadata(
            run_id=parent.run_id, job_name=parent.job, job_namespace=parent.namespace,
            root_parent_job_name=parent.root_job, root_parent_job_namespace=parent.root_namespace,
            root_parent_run_id=parent.root_run_id)
    emitter = client(settings, f"runs/{run_key(run_id)}/dbt.jsonl")
    events = processor.parse().events()
    for event in events:
        _safe_emit(emitter, _lake_names(settings, event))
    return len(events)


def _lake_names(settings: Settings, event):
    """dbt names a table `<schema>.<table>`; the lake's producers name it by location. Rename, keep the
    dbt name as a symlink, so dbt's events join Spark's and the stages'."""
    def rename(dataset):
        parts = dataset.name.split(".")
        if len(parts) < 2:
            return dataset
        lake_table = table_dataset(settings, parts[-2], parts[-1])
        facets = dict(dataset.facets or {}) | {"symlinks": lake_table.facets["symlinks"]}
        if "columnLineage" in facets:
            facets["columnLineage"] = _rename_columns(settings, facets["columnLineage"])
        return attr.evolve(dataset, namespace=lake_table.namespace, name=lake_table.name, facets=facets)

    return attr.evolve(event, inputs=[rename(d) for d in event.inputs or []],
                       outputs=[rename(d) for d in event.outputs or []])


def _rename_columns(settings: Settings, facet):
    for fields in facet.fields.values():
        for source in fields.inputFields:
            parts = source.name.split(".")
            if len(parts) >= 2:
                source.namespace, source.name = dataset_name(settings.table_path(parts[-2], parts[-1]))
    return facet


# --- reading: the lineage view ---------------------------------------------------------------------


def read_events(uri: str) -> list[dict]:
    """The events of one stream: a JSON-lines file, or a folder of one-event objects (object-store lakes)."""
    if storage.exists(uri):
        text = storage.read_text(uri)
    else:
        folder = uri.removesuffix(".jsonl")
        text = "".join(storage.read_text(f"{folder}/{entry.name}") for entry in storage.list_files(folder))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_events(settings: Settings, run_id: str) -> list[dict]:
    """The stage and dbt events one regulake run emitted."""
    folder = f"{lineage_root(settings)}/runs/{run_key(run_id)}"
    return [event for stream in ("stages.jsonl", "dbt.jsonl") for event in read_events(f"{folder}/{stream}")]


def builds(settings: Settings, events: Iterable[dict]) -> dict[str, dict]:
    """{table: its latest build}: the job and run that wrote it (a COMPLETE event with it as an output), when,
    and the tables and locations that run read. Tables are `<layer>.<table>` of this lake."""
    built: dict[str, dict] = {}
    for event in sorted((e for e in events if e.get("eventType") == "COMPLETE"), key=lambda e: e["eventTime"]):
        outputs = {t: d for d in event.get("outputs") or []
                   if (t := table_of(settings, d["namespace"], d["name"], d.get("facets")))}
        if not outputs:
            continue
        inputs, locations = set(), set()
        for dataset in event.get("inputs") or []:
            table = table_of(settings, dataset["namespace"], dataset["name"], dataset.get("facets"))
            if table:
                inputs.add(table)
            else:
                locations.add(f"{dataset['namespace']}:{dataset['name']}")
        facets = event["run"].get("facets") or {}
        regulake = facets.get("regulake") or {}
        parent = facets.get("parent") or {}
        for table, dataset in outputs.items():
            built[table] = {
                "job": event["job"]["name"], "ol_run_id": event["run"]["runId"], "at": event["eventTime"],
                "run_id": regulake.get("run_id"), "airflow_task": (parent.get("job") or {}).get("name"),
                "inputs": sorted(inputs - {table}), "locations": sorted(locations),
                "columns": column_sources(settings, dataset),
            }
    return built


def column_sources(settings: Settings, dataset: Mapping[str, Any]) -> dict[str, list[str]]:
    """{column: [`<layer>.<table>.<column>` it is computed from]}, where the producer gave column lineage."""
    fields = ((dataset.get("facets") or {}).get("columnLineage") or {}).get("fields") or {}
    return {column: sorted(f"{table_of(settings, f['namespace'], f['name']) or f['name']}.{f['field']}"
                           for f in lineage.get("inputFields") or [])
            for column, lineage in sorted(fields.items())}


def update_tables(settings: Settings, run_id: str) -> dict[str, dict]:
    """`<lake>/_lineage/tables.json` with this run's builds merged in (a table this run did not write keeps its
    earlier build); returns the merged map. The dbt events carry no regulake facet: the run is filled in."""
    path = f"{lineage_root(settings)}/{TABLES_FILE}"
    tables = json.loads(storage.read_text(path)) if storage.exists(path) else {}
    fresh = builds(settings, run_events(settings, run_id))
    for build in fresh.values():
        build["run_id"] = build["run_id"] or run_id
    if fresh:
        tables.update(fresh)
        storage.write_text(path, json.dumps(tables, ensure_ascii=False, indent=1, sort_keys=True))
    return tables


def upstream(tables: Mapping[str, dict], table: str) -> set[str]:
    """Every table `table` was built from, transitively (through each table's latest build)."""
    seen: set[str] = set()
    pending = [table]
    while pending:
        for source in (tables.get(pending.pop()) or {}).get("inputs", []):
            if source not in seen:
                seen.add(source)
                pending.append(source)
    return seen


def source_feeds(tables: Mapping[str, dict], table: str, feed_ids: Iterable[str]) -> list[str]:
    """The department feeds a table comes from: its upstream bronze or silver tables that are feeds."""
    found = upstream(tables, table)
    return sorted(f for f in feed_ids if f"silver.{f}" in found or f"bronze.{f}" in found)
