"""`regulake run --dry-run`: what a run over a landing would do, without doing it (and without a JVM).

Landing's own first step decides it: `jobs.landing.job.classify_feed` lists every delivery folder of
every feed `discover` finds and reads its manifest (nothing else), with what `audit.delivery_log`
already holds (read here with delta-rs), exactly as a run does. A delivery is then

* new: a run reads it, checks every file against its manifest and loads it (or rejects it, if a
  file does not match: only the read can tell);
* unchanged: already in the delivery log with the same content (loaded from this very folder, or
  rejected / incomplete / a duplicate with the same listing): a run skips it silently;
* duplicate, rejected or incomplete: a run logs that decision and loads nothing.

The stages after promotion (link_entities ... scorecards) run when a new delivery is to be
promoted, or a loaded one has not been through the gate yet; otherwise
`regulake.stage_state.nothing_to_build` (the run's own test) says whether they have anything to
build. Even when they run, each stage may still skip by its own fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apps.status import STAGES, held_back
from regulake.delta_rows import read_rows

if TYPE_CHECKING:
    from rich.console import Console

    from regulake.config import Settings

NEW, UNCHANGED = "new", "unchanged"
_LISTED = 12  # deliveries listed that a run would log without loading; the rest are counted


@dataclass(frozen=True)
class PlannedDelivery:
    """One delivery folder and what a run would do with it."""

    feed_id: str
    folder: str
    batch_date: str
    outcome: str  # new | unchanged | duplicate | rejected | incomplete
    reason: str | None = None  # for unchanged: what it was logged as
    manifest_rows: int | None = None
    mode: str | None = None

    @property
    def name(self) -> str:
        return f"{self.feed_id}/{self.folder}" if self.folder else self.feed_id


@dataclass
class DryRunPlan:
    landing: str
    lake: str
    feeds: list[str]
    ignored_folders: list[str]
    deliveries: list[PlannedDelivery]
    not_gated: list[tuple[str, str]]  # loaded in an earlier run, not through the gate yet
    held: list[tuple[str, str]]  # held back by the gate (re-gated only when their rules change)
    stages_run: bool
    stages_reason: str
    stages: tuple[str, ...] = field(default=STAGES)

    def by_outcome(self, outcome: str) -> list[PlannedDelivery]:
        return [d for d in self.deliveries if d.outcome == outcome]


def planned(delivery: Any) -> PlannedDelivery:
    """A `jobs.landing.job.Delivery` after `classify_feed` as what a run would do with it."""
    manifest = delivery.manifest
    if delivery.status is None:
        outcome, reason = NEW, None
    elif not delivery.logged:
        outcome, reason = UNCHANGED, delivery.status
    else:
        outcome, reason = delivery.status, delivery.reason
    return PlannedDelivery(delivery.feed_id, delivery.folder, delivery.batch_date, outcome, reason,
                           manifest.rows if manifest else None, manifest.mode if manifest else None)


def plan(landing: str, settings: Settings, *, as_of: str | None = None, rebuild: bool = False) -> DryRunPlan:
    """What `regulake run --landing LANDING` would do now (`as_of`, `rebuild`: the run's options).

    Raises `jobs.landing.job.LandingRootMissing` when the landing root does not exist."""
    from jobs.landing.config import landing_limits
    from jobs.landing.job import LOADED, classify_feed, discover, landing_date, normalize_root
    from regulake import storage
    from regulake.feeds import load_feed
    from regulake.stage_state import nothing_to_build

    storage.configure(settings)
    root = normalize_root(landing)
    feeds = discover(root)
    ignored = sorted(set(storage.list_dirs(root)) - set(feeds))
    log_rows = read_rows(settings, "audit", "delivery_log",
                         ("feed_id", "batch_date", "status", "delivery_id", "location"))
    verdicts = read_rows(settings, "audit", "gate_result",
                         ("feed_id", "batch_date", "delivery_id", "outcome", "evaluated_at"))
    limits, today = landing_limits(), landing_date(settings)

    deliveries: list[PlannedDelivery] = []
    for feed_id in feeds:
        # {(delivery_id, status): location}: what jobs.landing.audit.read_delivery_log gives a run.
        logged = {(r["delivery_id"], r["status"]): r["location"] for r in log_rows if r["feed_id"] == feed_id}
        deliveries += [planned(d) for d in classify_feed(load_feed(feed_id), root, logged, today, limits)]

    held = held_back(verdicts)
    gated = {r["delivery_id"] for r in verdicts}  # promoted, or held (then in `held` while it stands)
    not_gated = sorted({(r["feed_id"], r["batch_date"]) for r in log_rows
                        if r["status"] == LOADED and r["delivery_id"] not in gated})
    new = [d for d in deliveries if d.outcome == NEW]
    if new:
        run_stages, why = True, f"{len(new)} new deliveries to land and promote"
    elif not_gated:
        run_stages, why = True, f"{len(not_gated)} loaded deliveries not through the gate yet"
    else:
        reason = nothing_to_build(settings, as_of, as_of_asked=as_of is not None, rebuild=rebuild)
        run_stages = reason is None
        why = reason or _why_build(settings, as_of, rebuild)
    return DryRunPlan(landing=root, lake=settings.lake_root, feeds=feeds, ignored_folders=ignored,
                      deliveries=deliveries, not_gated=not_gated, held=held, stages_run=run_stages,
                      stages_reason=why)


def _why_build(settings: Settings, as_of: str | None, rebuild: bool) -> str:
    """Why `nothing_to_build` found something to build (it only says whether)."""
    import json

    from regulake import storage
    from regulake.stage_state import LAST_COMPLETE_RUN, silver_versions

    if rebuild:
        return "--rebuild asked for it"
    path = f"{settings.lake_root}/{LAST_COMPLETE_RUN}"
    if not storage.exists(path):
        return "no run has got to its end on this lake yet"
    last = json.loads(storage.read_text(path))
    if last.get("silver") != silver_versions(settings):
        return f"silver changed since run {last.get('run_id')} built from it"
    return f"as of {as_of}, run {last.get('run_id')} built as of {last.get('as_of')}"


def render(plan: DryRunPlan, console: Console) -> None:
    """The plan on a terminal: counts, the new deliveries (a line per feed), the deliveries a run would
    log without loading, the stages."""

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True, markup=False)

    say(f"Dry run (nothing is written): landing {plan.landing} → lake {plan.lake}")
    new, unchanged = plan.by_outcome(NEW), plan.by_outcome(UNCHANGED)
    others = [d for d in plan.deliveries if d.outcome not in (NEW, UNCHANGED)]
    say(f"  {len(plan.feeds)} feeds, {len(plan.deliveries)} delivery folders: {len(new)} new, {len(unchanged)} "
        f"unchanged (already in audit.delivery_log), {len(others)} to log only")
    if plan.ignored_folders:
        say(f"  ignored (no schema): {', '.join(plan.ignored_folders)}")
    if new:
        say("New (a run reads them, checks each file against the manifest, loads them): batch, rows per manifest")
        width = max(len(d.feed_id) for d in new)
        for feed_id in sorted({d.feed_id for d in new}):
            batches = [f"{d.folder}" + ("" if d.manifest_rows is None else f" {d.manifest_rows:,}")
                       + (" full" if d.mode == "full" else "") for d in new if d.feed_id == feed_id]
            say(f"  {feed_id:<{width}}  {' · '.join(batches)}")
    if others:
        say("Logged, not loaded:")
        for delivery in others[:_LISTED]:
            say(f"  {delivery.name}  {delivery.outcome}" + (f": {delivery.reason}" if delivery.reason else ""))
        if len(others) > _LISTED:
            say(f"  ... and {len(others) - _LISTED} more")
    if plan.not_gated:
        say("Loaded earlier, not through the gate yet (promotion gates them): "
            + ", ".join(f"{f}/{b}" for f, b in plan.not_gated))
    if plan.held:
        say(f"Held back by the gate: {', '.join(f'{f}/{b}' for f, b in plan.held)} "
            "(gated again only if their feed's rules changed)")
    say(f"Stages after promotion ({', '.join(plan.stages)}):")
    say(f"  {'would run' if plan.stages_run else 'would be skipped'}: {plan.stages_reason}")


def dry_run(landing: str, settings: Settings, console: Console, *, as_of: str | None = None,
            rebuild: bool = False) -> None:
    """`regulake run --dry-run`: the plan of a run over `landing`, printed (the `run` command calls it)."""
    render(plan(landing, settings, as_of=as_of, rebuild=rebuild), console)
