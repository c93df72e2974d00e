"""Dedup, version order and currency as functions of the set of records (pure transforms)."""

from __future__ import annotations

from functools import reduce

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.landing.bronze import bronze_spark_schema
from jobs.silver.quality import feed_quality
from jobs.silver.records import RECORD_KEY, accepted_records, check_records
from jobs.silver.versions import copy_records, resolve_versions
from regulake.feeds import load_feed

from .helpers import bronze_rows

SCHEMA = load_feed("samr_penalty")
VIEW = ["_record_key", "updated_at_text", "_batch_date", "_record_no", "_version_rank", "_is_current"]


def penalty(decision_no: str, updated_at: str, fine: str = "1000") -> dict:
    return {"decision_no": decision_no, "uscc": "91411723MA92CK0T2L", "ent_name": "x", "violation_type": "v",
            "penalty_types": "罚款", "fine_amount": fine, "severity": "1", "decision_date": "2024-01-05",
            "authority": "a", "updated_at": updated_at}


def accepted(spark, batch_date: str, records: list[dict], file_name: str = "part-0001.csv") -> DataFrame:
    bronze = spark.createDataFrame(bronze_rows(SCHEMA, records, batch_date, f"d{batch_date}", file_name),
                                   bronze_spark_schema(SCHEMA))
    # Checkpointed: the tests below reuse these frames many times.
    return accepted_records(check_records(bronze, SCHEMA, feed_quality(SCHEMA)), SCHEMA).localCheckpoint()


def show(frame: DataFrame) -> DataFrame:
    return frame.select(
        "*", F.date_format("updated_at", "yyyy-MM-dd HH:mm").alias("updated_at_text")).select(*VIEW)


def process(state: DataFrame | None, incoming: DataFrame, all_copies: DataFrame,
            latest_full: str | None) -> DataFrame:
    """What one MERGE does: recompute the touched keys from state + incoming, keep the rest."""
    touched = incoming.select(RECORD_KEY).distinct()
    existing = incoming.limit(0) if state is None else state.join(touched, RECORD_KEY, "left_semi")
    copies = all_copies.join(touched.withColumnRenamed(RECORD_KEY, "record_key"), "record_key", "left_semi")
    updates = resolve_versions(existing, incoming, copies, "updated_at", latest_full)
    if state is not None:
        updates = state.join(touched, RECORD_KEY, "left_anti").unionByName(updates)
    return updates.localCheckpoint()


@pytest.fixture(scope="module")
def deliveries(spark) -> dict[str, DataFrame]:
    return {
        "20240101": accepted(spark, "20240101", [penalty("D1", "2024-01-01 10:00"), penalty("D2", "2024-01-01 11:00")]),
        "20240102": accepted(spark, "20240102", [
            penalty("D1", "2024-01-01 10:00"),   # exact duplicate of 20240101#1
            penalty("D1", "2024-01-02 09:00", fine="2000"),  # a new version
            penalty("D3", "2024-01-02 10:00"),
            penalty("D3", "2024-01-02 10:00"),   # duplicate within the delivery
        ]),
        "20240103": accepted(spark, "20240103", [
            penalty("D2", "2024-01-01 11:00", fine="5"),  # same version time, later batch: wins the tie
            penalty("D1", "2023-12-31 00:00", fine="7"),  # an older version arriving late
        ]),
    }


EXPECTED = [
    ("D1", "2024-01-02 09:00", "20240102", 2, 1, True),
    ("D1", "2024-01-01 10:00", "20240101", 1, 2, False),
    ("D1", "2023-12-31 00:00", "20240103", 2, 3, False),
    ("D2", "2024-01-01 11:00", "20240103", 1, 1, True),
    ("D2", "2024-01-01 11:00", "20240101", 2, 2, False),
    ("D3", "2024-01-02 10:00", "20240102", 3, 1, True),
]


def test_dedup_and_version_order(spark, deliveries):
    incoming = reduce(DataFrame.unionByName, deliveries.values())
    resolved = resolve_versions(incoming.limit(0), incoming, copy_records(incoming), "updated_at", None)
    assertDataFrameEqual(show(resolved), spark.createDataFrame(EXPECTED, show(resolved).schema))


@pytest.mark.parametrize("order", [["20240101", "20240102", "20240103"], ["20240103", "20240102", "20240101"],
                                   ["20240102", "20240103", "20240101"]])
def test_order_of_arrival_does_not_matter(spark, deliveries, order):
    state, copies = None, None
    for batch in order:
        incoming = deliveries[batch]
        new_copies = copy_records(incoming)
        copies = (new_copies if copies is None else copies.unionByName(new_copies)).localCheckpoint()
        state = process(state, incoming, copies, None)
    assertDataFrameEqual(show(state), spark.createDataFrame(EXPECTED, show(state).schema))


def test_full_delivery_ends_currency_of_missing_keys(spark):
    full_1 = accepted(spark, "20240101", [penalty("K1", "2024-01-01 10:00"), penalty("K2", "2024-01-01 10:00")])
    incremental_2 = accepted(spark, "20240102", [penalty("K3", "2024-01-02 10:00")])
    full_3 = accepted(spark, "20240103", [penalty("K1", "2024-01-01 10:00")])  # identical: a duplicate
    incoming = full_1.unionByName(incremental_2).unionByName(full_3)
    resolved = resolve_versions(incoming.limit(0), incoming, copy_records(incoming), "updated_at", "20240103")
    got = resolved.select("_record_key", "_batch_date", "_is_current", "_last_seen_batch_date")
    expected = [("K1", "20240101", True, "20240103"), ("K2", "20240101", False, "20240101"),
                ("K3", "20240102", False, "20240102")]
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema))
    # Without a newer full delivery every latest version is current.
    again = resolve_versions(incoming.limit(0), incoming, copy_records(incoming), "updated_at", "20240101")
    assert {r._record_key for r in again.where("_is_current").collect()} == {"K1", "K2", "K3"}
