"""The quality gate: one GX checkpoint per delivery, Data Docs for every run.

GX runs on the Spark datasource (great_expectations 1.24 works with pyspark
4.1 here) against the cached checked frame of one delivery, so the
expectations are evaluated by Spark, not on a collected pandas frame. One
ephemeral GX context per feed run holds the datasource, the suites and a
Data Docs site under `<lake_root>/_data_docs/<feed_id>/` (per feed, because
the feeds' tasks run in parallel and each rebuilds its site's index). The
site is built once per feed run (`build_docs`), for all its checkpoints:
rendering it after every checkpoint cost more than the validation itself.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import great_expectations as gx
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver.expectations import build_suite
from jobs.silver.personal import mask_gx_result, mask_rics_in_text, personal_columns
from jobs.silver.quality import FeedQuality, GxSettings
from jobs.silver.records import DETAIL, REASON
from regulake import storage
from regulake.config import Settings
from regulake.feeds import FeedSchema

log = logging.getLogger(__name__)
SITE = "regulake"


class GateFailed(RuntimeError):
    """One or more deliveries of a feed were held back by the quality gate."""


@dataclass
class GateVerdict:
    """What the checkpoint of one delivery found."""

    feed_id: str
    batch_date: str
    delivery_id: str
    rows: int
    rows_quarantined: int
    tolerance: float
    success: bool
    failing: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    data_docs: str | None = None

    @property
    def quarantine_share(self) -> float:
        return self.rows_quarantined / self.rows if self.rows else 0.0

    def message(self) -> str:
        lines = [
            f"feed {self.feed_id}, batch {self.batch_date} held back: {self.rows_quarantined} of {self.rows} "
            f"records ({self.quarantine_share:.1%}) would be quarantined, tolerance {self.tolerance:.1%}",
            "  failing expectations:",
            *[f"    - {item}" for item in self.failing],
        ]
        if self.sample:
            lines += ["  sample of failing records:", *[f"    - {item}" for item in self.sample]]
        lines.append(f"  Data Docs: {self.data_docs or 'not written'}")
        return "\n".join(lines)


def _docs_target(settings: Settings, gx_conf: GxSettings, feed_id: str) -> tuple[Path, str | None]:
    """(the folder GX builds the feed's Data Docs site in, where it is then published or None).

    GX writes a site to a local folder. On a local lake that is the site's place in the lake; on
    object storage the site is built in a scratch folder and copied under the lake's root.
    """
    if settings.is_local_lake:
        return Path(settings.lake_root.removeprefix("file://")) / gx_conf.data_docs_dir / feed_id, None
    scratch = Path(tempfile.mkdtemp(prefix=f"regulake-data-docs-{feed_id}-"))
    return scratch, storage.join(settings.lake_root, gx_conf.data_docs_dir, feed_id)


def describe_failure(result) -> str:
    """One line per failed expectation: what, on which column, how much, examples."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "column", "mostly", "value_set")}
    column = config.kwargs.get("column")
    rule = (config.meta or {}).get("rule", "")
    res = result.result or {}
    unexpected = res.get("unexpected_percent")
    mostly = config.kwargs.get("mostly")
    text = f"{config.type}(column={column}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
    if rule:
        text += f" [{rule}]"
    if unexpected is not None:
        allowed = "" if mostly is None else f" > allowed {100 * (1 - mostly):.1f}%"
        text += f": {unexpected:.1f}% unexpected{allowed}"
    examples = res.get("partial_unexpected_list")
    if examples:
        text += f"; e.g. {examples[:3]}"
    return text


class DeliveryGate:
    """Validates the deliveries of one feed run; writes Data Docs."""

    def __init__(self, settings: Settings, schema: FeedSchema, quality: FeedQuality, gx_conf: GxSettings,
                 run_id: str) -> None:
        self.schema, self.quality, self.gx_conf, self.run_id = schema, quality, gx_conf, run_id
        self.context = gx.get_context(mode="ephemeral")
        try:  # progress bars flood task logs; not every GX build exposes the switch
            self.context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        except Exception:  # noqa: BLE001
            log.debug("GX progress bars could not be disabled")
        self.docs_root, self.docs_published = _docs_target(settings, gx_conf, schema.feed_id)
        self.context.add_data_docs_site(site_name=SITE, site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(self.docs_root)},
        })
        self.asset = self.context.data_sources.add_spark("spark").add_dataframe_asset(schema.feed_id)
        self.batch_definition = self.asset.add_batch_definition_whole_dataframe("delivery")
        self._docs_resources: list = []

    def build_docs(self) -> None:
        """Render the Data Docs pages of every checkpoint run so far, and the site's index."""
        if self._docs_resources:
            self.context.build_data_docs(site_names=[SITE], resource_identifiers=self._docs_resources)
            self._docs_resources = []
            if self.docs_published is not None:
                storage.copy_tree(str(self.docs_root), self.docs_published)
        if self.docs_published is not None:  # the scratch folder goes, built or not
            shutil.rmtree(self.docs_root, ignore_errors=True)

    def _checkpoint(self, name: str, suite: gx.ExpectationSuite, checked: DataFrame, result_format: str):
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=self.batch_definition, suite=suite))
        checkpoint = self.context.checkpoints.add(gx.Checkpoint(
            name=name, validation_definitions=[definition], actions=[],
            result_format={"result_format": result_format,
                           "partial_unexpected_count": self.gx_conf.partial_unexpected_count},
        ))
        outcome = checkpoint.run(batch_parameters={"dataframe": checked})
        failing, docs = [], None
        for identifier, validation in outcome.run_results.items():
            if self._mask_personal(validation):  # the stored copy renders the Data Docs
                self.context.validation_results_store.set(identifier, validation)
            failing += [describe_failure(r) for r in validation.results if not r.success]
            self._docs_resources += [identifier, ExpectationSuiteIdentifier(name=validation.suite_name)]
            urls = self.context.get_docs_sites_urls(resource_identifier=identifier, site_names=[SITE],
                                                     only_if_exists=False)  # built by build_docs
            docs = next((u["site_url"] for u in urls if u.get("site_url")), None)
            if docs and self.docs_published is not None:  # the page's address once published
                docs = docs.replace(self.docs_root.as_uri(), self.docs_published, 1)
        return bool(outcome.success), failing, docs

    def _mask_personal(self, validation) -> bool:
        """Mask the unexpected values GX kept of the feed's personal-data columns (RIC, names of
        natural persons) in place; True when any was masked."""
        personal = personal_columns(self.schema)
        masked = False
        for result in validation.results:
            kind = personal.get(result.expectation_config.kwargs.get("column"))
            if kind is not None and result.result:
                result.result = mask_gx_result(result.result, kind)
                masked = True
        return masked

    def volume_rule(self, previous_full: tuple[str, int] | None) -> tuple[int, str] | None:
        """(minimum records, rule) of a full delivery after the full delivery (batch, records) `previous_full`."""
        ratio = self.quality.min_full_volume_ratio
        if previous_full is None or ratio <= 0:
            return None
        batch, rows = previous_full
        return (self.quality.min_full_rows(rows),
                f"full delivery volume: at least {ratio:.0%} of the {rows} records of the previous full "
                f"delivery {batch}")

    def validate(self, checked: DataFrame, batch_date: str, delivery_id: str, rows: int, quarantined: int,
                 previous_full: tuple[str, int] | None = None) -> GateVerdict:
        """Run the checkpoint of one delivery's checked frame (cache it first: GX reads it many times).

        `rows` and `quarantined`: the frame's records and those with a quarantine reason
        (counted for all deliveries of the run at once, `delivery_counts`).
        The first pass asks GX for pass/fail only (a few aggregate queries); a
        delivery that fails is validated again with SUMMARY results, whose
        unexpected shares and example values go into the message and the Data Docs.
        `previous_full` (batch date, records) is given for a full delivery: its volume is
        checked against that earlier full delivery's.
        """
        name = f"{self.schema.feed_id}.{batch_date}.{delivery_id[:12]}"
        volume = self.volume_rule(previous_full)
        suite = build_suite(self.schema, self.quality, rows, volume)
        suite.name = name
        success, failing, docs = self._checkpoint(name, suite, checked, "BOOLEAN_ONLY")
        if not success:
            detail = build_suite(self.schema, self.quality, rows, volume)
            detail.name = f"{name}.detail"
            success, failing, docs = self._checkpoint(detail.name, detail, checked, "SUMMARY")
        verdict = GateVerdict(
            feed_id=self.schema.feed_id, batch_date=batch_date, delivery_id=delivery_id, rows=rows,
            rows_quarantined=quarantined, tolerance=self.quality.quarantine_tolerance(rows),
            success=success, failing=failing, data_docs=docs,
        )
        if not verdict.success:
            verdict.sample = failing_sample(checked, self.gx_conf.failing_records_sample)
        log.info("gate %s %s: %s (%d/%d quarantined); Data Docs %s", self.schema.feed_id, batch_date,
                 "passed" if verdict.success else "HELD", quarantined, rows, docs)
        return verdict


def delivery_counts(checked: DataFrame) -> dict[str, tuple[int, int]]:
    """delivery_id -> (records, quarantined records) of a checked frame, in one aggregate."""
    rows = checked.groupBy("_delivery_id").agg(
        F.count(F.lit(1)).alias("rows"), F.count(F.col(REASON)).alias("quarantined")).collect()
    return {r["_delivery_id"]: (int(r["rows"]), int(r["quarantined"])) for r in rows}


def failing_sample(checked: DataFrame, limit: int) -> list[str]:
    """A few failing records: file#record_no, reason and detail (quarantined ones first)."""
    failing = checked.where(F.col(REASON).isNotNull() | (F.size("_dq_flags") > 0))
    rows = (failing.orderBy(F.col(REASON).isNull(), "_file_name", "_record_no")
            .select("_file_name", "_record_no", REASON, DETAIL, "_dq_flags").limit(limit).collect())
    return [mask_rics_in_text(f"{r['_file_name']}#{r['_record_no']}: {r[REASON] or 'flagged'} "
                              f"({r[DETAIL] or ', '.join(r['_dq_flags'])})") for r in rows]
