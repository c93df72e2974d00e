"""The `regulake` command line: generate, run, sql, status, serve, users, erase, airflow, risk backtest."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console()

LakeOption = Annotated[
    str | None, typer.Option("--lake", help="Lake root, path or s3a:// (default: lake.root in conf/regulake.yaml)")
]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("py4j", "airflow", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)


def _settings(lake: str | None):
    from regulake.config import load_settings

    return load_settings(lake_root=lake)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder: writes landing/ and truth/")],
    enterprises: Annotated[int, typer.Option(help="Registered enterprises")] = 10_000,
    batches: Annotated[int, typer.Option(help="Monthly deliveries per feed")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 1,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
) -> None:
    """Write synthetic deliveries that follow the exchange standard, with their ground truth."""
    _logging(False)
    from synth.generator import generate as run_generator

    started = time.perf_counter()
    summary = run_generator(out_dir, enterprises=enterprises, batches=batches, seed=seed, progress=progress)
    console.print(f"[green]generated[/] {summary.enterprises:,} enterprises, {summary.deliveries} deliveries "
                  f"({len(summary.planted_deliveries)} with planted defects), {summary.records:,} records, batches "
                  f"{', '.join(summary.batch_dates)} in {time.perf_counter() - started:.1f}s → {out_dir} "
                  f"(what was planted: {summary.truth})", highlight=False, soft_wrap=True)


@app.command()
def run(
    landing: Annotated[str, typer.Option("--landing", help="Landing root with <feed>/<batch>/ folders (path or s3a://)")],
    lake: LakeOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="As-of date YYYY-MM-DD (default: the latest batch date of the deliveries)")] = None,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Build every stage after promotion even when no new delivery was promoted")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show every log line here (default: one line per stage; the rest in the log file)")] = False,
    scheduler: Annotated[bool, typer.Option(
        "--scheduler", help="Trigger the run in the running Airflow scheduler and wait (default: run it here)")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the pending deliveries and the stages that would run; run nothing")] = False,
) -> None:
    """Run the main Airflow DAG over every delivery under LANDING (in this process, or by the scheduler)."""
    _logging(verbose)
    if as_of:
        date.fromisoformat(as_of)  # fail early with a clear message
    if "://" not in landing:
        if not Path(landing).is_dir():
            # Not typer's boxed usage error: that wraps a long path at 80 columns, splitting the name a
            # person (or a log search) looks for.
            console.print(f"regulake run: --landing {landing} is not a folder", style="red", soft_wrap=True,
                          markup=False, highlight=False)
            raise typer.Exit(2)
        landing = str(Path(landing).resolve())
    settings = _settings(lake)
    if dry_run:
        from apps.dry_run import dry_run as plan_run

        plan_run(landing, settings, console, as_of=as_of, rebuild=rebuild)
        return
    conf = {"landing": landing, "lake": settings.lake_root, "as_of": as_of, "rebuild": rebuild}
    if scheduler:
        from apps.airflow_env import prepare_airflow

        prepare_airflow(settings)
        _run_by_scheduler(conf, settings)
        return
    console.print(f"running DAG [bold]regulake_main[/] landing={landing} lake={settings.lake_root}"
                  + (f" as-of={as_of}" if as_of else ""), highlight=False, soft_wrap=True)
    if verbose:
        dag_run, elapsed = _run_dag(conf, settings, view=None)
        log_location = None
    else:
        from apps.run_view import RunLog, RunView, output_to

        run_log = RunLog.start(settings)
        with output_to(run_log.path) as terminal:
            _logging(False)
            view = RunView(terminal)
            view.on_run_id = run_log.name_after
            dag_run, elapsed = _run_dag(conf, settings, view)
            # Stopped here, not at exit: the JVM's shutdown chatter (py4j's, the lineage listener's last
            # event) goes to the log file too, not to the terminal after the summary.
            from regulake.spark import stop_spark

            stop_spark()
        run_log.publish()
        log_location = run_log.location
    _run_summary(dag_run, elapsed, settings, log_location)


def _run_dag(conf: dict, settings, view):
    """`dag.test` of the main DAG in this process (every task here); with a run view, its stage lines."""
    from contextlib import nullcontext

    from apps.airflow_env import load_main_dag, prepare_airflow
    from regulake import lease, progress

    prepare_airflow(settings)
    dag = load_main_dag()
    os.environ[lease.PROCESS_ENV] = str(os.getpid())  # every task runs here: the lease dies with this pid
    watching = nullcontext()
    if view is not None:
        from airflow.sdk.listener import get_listener_manager

        from apps.run_view import listener

        get_listener_manager().add_listener(listener(view))
        watching = progress.watching(view.stage_summary)
    started = time.perf_counter()
    with watching:
        dag_run = dag.test(run_conf=conf)
    if view is not None:
        states: dict[str, str] = {}
        for ti in dag_run.get_task_instances():
            state = str(ti.state).rsplit(".", 1)[-1].lower()
            if states.get(ti.task_id) != "failed":
                states[ti.task_id] = state
        view.finish(states)
    return dag_run, time.perf_counter() - started


def _run_summary(dag_run, elapsed: float, settings, log_location: str | None) -> None:
    from regulake import lease, storage

    state = str(getattr(dag_run, "state", "unknown"))
    log_line = f"\n  log: {log_location}" if log_location else ""
    report = f"{settings.lake_root}/_reports/regulake_report.html"
    if state != "success":
        failed = sorted({ti.task_id for ti in dag_run.get_task_instances() if str(ti.state) == "failed"})
        console.print(
            f"[red]pipeline failed[/] ({state}) after {elapsed:.0f}s; failed tasks: {', '.join(failed)}"
            + (log_line or f" (task logs under {settings.airflow_home / 'logs'})"), highlight=False, soft_wrap=True)
        if "discover_feeds" in failed and (held := lease.holder_message(settings, dag_run.run_id)):
            console.print(held, style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]pipeline succeeded[/] in {elapsed:.0f}s (run {dag_run.run_id})"
                  + (f"\n  report: {report}" if storage.exists(report) else "") + log_line, highlight=False,
                  soft_wrap=True)


def _run_by_scheduler(conf: dict, settings) -> None:
    from apps.airflow_env import DAG_ID
    from apps.scheduler import trigger_and_wait

    console.print(f"DAG [bold]{DAG_ID}[/] through the Airflow scheduler: landing={conf['landing']} lake={conf['lake']}")
    result = trigger_and_wait(DAG_ID, conf, report=console.print)
    if result.state != "success":
        console.print(f"[red]pipeline failed[/] ({result.state}) after {result.seconds:.0f}s; failed tasks: "
                      f"{', '.join(result.failed_tasks)} (task logs under {settings.airflow_home / 'logs'})")
        raise typer.Exit(1)
    console.print(f"[green]pipeline succeeded[/] in {result.seconds:.0f}s (run {result.run_id})")


@app.command()
def export(
    lake: LakeOption = None,
    batch_date: Annotated[str | None, typer.Option(
        "--date", help="Batch date of the deliveries, YYYY-MM-DD (default: today)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the export DAG here: each subscriber gets what changed in gold since its last delivery (docs/EXPORTS.md)."""
    _logging(verbose)
    if batch_date:
        date.fromisoformat(batch_date)
    settings = _settings(lake)
    from apps.airflow_env import load_dag, prepare_airflow
    from regulake import progress

    prepare_airflow(settings)
    dag = load_dag("regulake_export")
    summaries: list[dict] = []
    with progress.watching(lambda stage, feed, summary: summaries.append(summary)):
        dag_run = dag.test(run_conf={"lake": settings.lake_root, "batch_date": batch_date})
    if str(dag_run.state) != "success" or not summaries:
        console.print(f"[red]export failed[/] ({dag_run.state}); task logs under {settings.airflow_home / 'logs'}")
        raise typer.Exit(1)
    done = summaries[-1]
    console.print(f"[green]exported[/] {done['deliveries']} deliveries, {done['rows']} rows, for "
                  f"{done['subscriptions']} subscriptions into {done['outbox']} (batch {done['batch_date']})",
                  highlight=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A Spark SQL statement")],
    lake: LakeOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows shown in table format")] = 1000,
    user: Annotated[str | None, typer.Option(
        "--user", help="User of the lake's `regulake serve` (default: $REGULAKE_SQL_USER); the password from "
                       "$REGULAKE_SQL_PASSWORD, else asked on a terminal")] = None,
) -> None:
    """Run one SQL statement against the lake's catalog.

    When a `regulake serve` runs for the same lake (it records where it listens in
    ~/.cache/regulake/serve), the statement goes through it and answers in about a second: it logs in
    as --user (default $REGULAKE_SQL_USER, a `regulake users add` user) with the password in
    $REGULAKE_SQL_PASSWORD (asked for on a terminal when unset), runs with that user's role and is
    logged in audit.query_log under that name. Otherwise, or without a user, Spark starts in this
    process for the one statement (about 30 s) and reads the lake files with this OS user's access.
    A missing table or column is named with what the database or table holds (exit code 1).
    """
    _logging(False)
    if fmt not in {"table", "csv", "json"}:
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    from apps.sql_client import SqlError, execute, write_result

    def notice(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    try:
        result = execute(_settings(lake), query, limit=None if fmt != "table" else limit, user=user, notice=notice)
    except SqlError as error:
        console.print(str(error), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(error.exit_code) from None
    write_result(result, fmt, out)


@app.command()
def status(
    lake: LakeOption = None,
    tables: Annotated[bool, typer.Option("--tables", help="Also list every table with its row count")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """The last run and the stages it skipped, held-back deliveries, each feed's latest batch and its
    deliveries by status, tables per layer. Read from the lake with delta-rs: no Spark, no JVM."""
    _logging(False)
    if fmt not in {"table", "json"}:
        raise typer.BadParameter("must be table or json", param_hint="--format")
    from apps.status import lake_status, render

    report = lake_status(_settings(lake))
    if fmt == "json":
        import json

        out.print_json(json.dumps(report, default=str))
        return
    render(report, out, tables=tables)


@app.command()
def serve(
    lake: LakeOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port in conf/regulake.yaml, 10000)")] = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: serve.host, 127.0.0.1 = loopback only)")
    ] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between looks for new tables and views")] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the lake over JDBC/ODBC (Spark Thrift Server, HiveServer2 protocol) until Ctrl-C or SIGTERM."""
    _logging(verbose)
    from apps.serve import EndpointSetupError, endpoint
    from apps.serve import serve as run_server

    settings = _settings(lake)
    where = endpoint(settings, host, port)
    console.print(
        f"starting the SQL endpoint on [bold]{where.jdbc_url}[/] over {settings.lake_root} "
        f"(beeline -u {where.jdbc_url} -n USER -p; Superset: {where.sqlalchemy_url.replace('://', '://USER:PASSWORD@')}"
        "?auth=CUSTOM)"
    )
    try:
        code = run_server(settings, host=host, port=port, refresh_seconds=refresh)
    except EndpointSetupError as error:
        console.print(f"[red]cannot start the SQL endpoint:[/] {error}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("connect-server")
def connect_server(
    lake: LakeOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the port of spark.remote, else 15002)")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default: the host of spark.remote, else "
                                                   "127.0.0.1)")] = None,
) -> None:
    """Run the one Spark driver that tasks reach over Spark Connect (set spark.remote to sc://HOST:PORT)."""
    _logging(False)
    from apps.connect_server import serve as run_server

    settings = _settings(lake)
    console.print(f"starting a Spark Connect server (master {settings.spark['master']}) over {settings.lake_root}; "
                  "clients set REGULAKE__SPARK__REMOTE=sc://HOST:PORT")
    raise typer.Exit(run_server(settings, host=host, port=port))


@app.command()
def airflow(
    lake: LakeOption = None,
    port: Annotated[int, typer.Option(help="API server / UI port")] = 8080,
) -> None:
    """Start Airflow itself (API server with UI, scheduler, DAG processor, triggerer) on the embedded default."""
    _logging(False)
    from apps.airflow_env import prepare_airflow

    settings = _settings(lake)
    env = prepare_airflow(settings)
    env = {**os.environ, **env, "AIRFLOW__API__PORT": str(port)}
    # Workers reach the execution API at localhost:8080 unless told where the API server listens.
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{port}/execution/")
    # standalone starts its components as `airflow ...` subprocesses found on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    host = env["AIRFLOW__API__HOST"]
    console.print(
        f"Airflow UI on http://{host}:{port} (AIRFLOW_HOME={env['AIRFLOW_HOME']}); log in as `admin` with the "
        f"password Airflow prints below (also in {env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated).\n"
        f"Trigger with: AIRFLOW_HOME={env['AIRFLOW_HOME']} {Path(sys.executable).parent}/airflow dags trigger "
        "regulake_main -c '{\"landing\": \"/abs/landing\", \"lake\": \"/abs/lake\"}'"
    )
    airflow_bin = Path(sys.executable).with_name("airflow")
    raise typer.Exit(subprocess.call([str(airflow_bin), "standalone"], env=env))


@app.command()
def erase(
    ric: Annotated[str, typer.Option("--ric", help="The resident identity card number of the person to erase")],
    lake: LakeOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would change; change nothing")] = False,
) -> None:
    """A person's deletion request: remove their RIC and name from bronze, silver, gold and audit (conf/erasure.yaml)."""
    _logging(False)
    from jobs.maintenance.erasure import ErasureError
    from jobs.maintenance.erasure import erase as run_erasure
    from regulake.spark import get_spark

    # No Spark lineage events: the queries of an erasure carry the person's RIC as a literal.
    settings = _settings(lake).with_overrides(**{"lineage.spark_listener": False})
    try:
        report = run_erasure(get_spark(settings, app_name="regulake-erase"), settings, ric, dry_run=dry_run)
    except (ErasureError, ValueError) as error:
        console.print(f"[red]erasure failed:[/] {error}")
        raise typer.Exit(1) from None
    table = Table("table", "action", "rows")
    for entry in report.tables:
        table.add_row(f"{entry.layer}.{entry.table}", entry.action, str(entry.rows))
    Console().print(table)
    verb = "would change" if dry_run else "changed"
    if dry_run:
        where = f"; tables holding the RIC now: {report.remaining}" if report.remaining else "; no table holds it"
    else:
        where = "; no table holds the RIC any more and earlier versions are vacuumed"
    console.print(f"person {report.person_id[:12]}…: {verb} {report.rows} rows in {len(report.tables)} tables"
                  + where)


users_app = typer.Typer(no_args_is_help=True, help="Users of the SQL endpoint (`regulake serve`) and their roles.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (what a client logs in with)")],
    role: Annotated[str, typer.Option(help="A role of serve.roles: analyst (masked data) or steward (all)")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts), not a prompt")] = False,
) -> None:
    """Add a user (or set a user's role and password); the running endpoint sees it at the next login."""
    from apps.endpoint_users import UsersError, add_user, users_file

    settings = _settings(None)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        new = add_user(settings, name, role, password)
    except UsersError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"{'added' if new else 'updated'} {name} ({role}) in {users_file(settings)}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    """Remove a user: the next statement of an open session is refused too."""
    from apps.endpoint_users import remove_user, users_file

    settings = _settings(None)
    if not remove_user(settings, name):
        console.print(f"[red]no user {name}[/] in {users_file(settings)}")
        raise typer.Exit(1)
    console.print(f"removed {name} from {users_file(settings)}")


@users_app.command("list")
def users_list() -> None:
    """The endpoint's users and their roles (never the hashes)."""
    from apps.endpoint_users import list_users

    for user in list_users(_settings(None)):
        typer.echo(f"{user.name}\t{user.role}")


risk_app = typer.Typer(no_args_is_help=True, help="The risk model: out-of-time backtest.")
app.add_typer(risk_app, name="risk")


@risk_app.command("backtest")
def risk_backtest(
    lake: LakeOption = None,
    cuts: Annotated[str | None, typer.Option(
        "--cuts", help="Cut dates YYYY-MM-DD, comma-separated (default: the 3 month ends before the last "
                       "horizon of inspections)")] = None,
    window_days: Annotated[int | None, typer.Option(
        "--window-days", help="Training history before each cut (default: model.training_window_days)")] = None,
    horizon_days: Annotated[int, typer.Option("--horizon-days", help="Inspections scored after each cut")] = 90,
    out_file: Annotated[Path, typer.Option("--out", help="Markdown report")] = Path(
        "benchmarks/results/risk_validation.md"),
) -> None:
    """Train on the inspection history before each cut date, classify on it, score the random inspections
    after it; writes the markdown report and gold.risk_backtest (charted in the run report)."""
    _logging(False)
    from datetime import datetime, timedelta

    from pyspark.sql import functions as F

    from jobs.risk.backtest import FIGURES_SCHEMA, figures_rows, render, run_backtest
    from jobs.risk.config import load_risk_config
    from jobs.risk.job import read_gold
    from jobs.risk.training import cut_before
    from regulake import lake as lake_io
    from regulake.spark import get_spark

    settings = _settings(lake)
    spark = get_spark(settings, app_name="regulake-risk-backtest")
    gold = read_gold(spark, settings)
    if gold.get("fct_inspection") is None or gold.get("dim_enterprise") is None:
        raise typer.BadParameter(f"{settings.lake_root} has no gold.fct_inspection or gold.dim_enterprise: "
                                 "run the pipeline first", param_hint="--lake")
    cfg = load_risk_config()
    window_days = window_days or cfg.model.training_window_days
    if cuts:
        cut_dates = [date.fromisoformat(c.strip()) for c in cuts.split(",") if c.strip()]
    else:
        last = gold["fct_inspection"].agg(F.max("inspection_date")).first()[0]
        if last is None:
            raise typer.BadParameter("no inspection in gold.fct_inspection", param_hint="--lake")
        cut_dates = [cut_before(last - timedelta(days=horizon_days))]
        for _ in range(2):
            cut_dates.insert(0, cut_before(cut_dates[0]))
    console.print(f"backtest: cuts {', '.join(map(str, cut_dates))} (train {window_days} days before each, "
                  f"score {horizon_days} days after)")
    results = run_backtest(gold, cfg, cut_dates, window_days=window_days, horizon_days=horizon_days)
    generated = datetime.now()
    meta = {"generated_at": generated.isoformat(timespec="seconds"), "lake": settings.lake_root,
            "window_days": window_days, "horizon_days": horizon_days}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(render(results, meta), encoding="utf-8")
    rows = figures_rows(results, generated)
    if rows:
        lake_io.overwrite(spark, settings, "gold", "risk_backtest", spark.createDataFrame(rows, FIGURES_SCHEMA))
    console.print(f"[green]wrote[/] {out_file} and gold.risk_backtest ({len(rows)} rows)")


if __name__ == "__main__":
    app()

