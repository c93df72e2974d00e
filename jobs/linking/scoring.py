"""Probabilistic name linking: Splink (Fellegi-Sunter) scores blocked pairs, then a decision.

Splink 5 runs on this Spark (4.1) without its Scala UDF jar: every comparison level is
plain Spark SQL (equality, `levenshtein`, `startswith`) on the features of
`jobs.linking.features`, so nothing is added to the shared session. The model (levels,
m and u probabilities, prior) is the `model:` section of conf/linking.yaml (levels) with
the numbers of conf/linking_model.json, estimated from generator truth by `make train-linking`
(`python -m synth.scoring.linking_train`); no training happens at run time, so a run is
deterministic.

Decision (precision first): a mention links to its best-scoring enterprise when the
posterior is at least `decision.min_probability` and its match weight beats the
runner-up by `decision.min_margin_bits` (twins in two cities with no region evidence
stay unlinked). A mention carrying an old registration number never links to an
enterprise that has another one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from jobs.linking.config import LinkingConfig

log = logging.getLogger(__name__)

# What score_candidates returns (also the shape of "no pairs" when nothing is to be scored).
PAIR_SCHEMA = StructType(
    [StructField(name, StringType()) for name in ("mention_id", "entity_id")]
    + [StructField(name, DoubleType()) for name in ("match_weight", "match_probability")]
    + [StructField(name, StringType()) for name in ("name_text_l", "name_text_r", "reg_no_l", "reg_no_r")]
)


_OWN_VIEWS = ("__splink__", "a_mentions_", "b_enterprises_", "a_train_", "b_train_")


def _level(raw: dict[str, Any]) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": raw["sql"], "label_for_charts": str(raw["label"])}
    if raw.get("is_null_level"):
        level["is_null_level"] = True
    else:
        level["m_probability"] = float(raw["m"])
        level["u_probability"] = float(raw["u"])
    return level


def splink_settings(config: LinkingConfig) -> dict[str, Any]:
    """Splink settings (a plain dict) from conf/linking.yaml."""
    model = config.model
    return {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": float(model["probability_two_random_records_match"]),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": f"l.{key} = r.{key}", "sql_dialect": "spark"} for key in config.blocking_keys
        ],
        "comparisons": [
            {"output_column_name": comp["output_column_name"],
             "comparison_levels": [_level(level) for level in comp["comparison_levels"]]}
            for comp in model["comparisons"]
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": ["reg_no"],
    }


@contextmanager
def splink_session(spark: SparkSession) -> Iterator[Any]:
    """A Splink SparkAPI whose cached intermediate tables are released on exit."""
    from splink import SparkAPI

    before = {t.name for t in spark.catalog.listTables() if t.isTemporary}
    # persist, not checkpoint: no checkpoint dir needs setting on the shared session.
    db_api = SparkAPI(spark_session=spark, break_lineage_method="persist", register_udfs_automatically=False,
                      num_partitions_on_repartition=int(spark.conf.get("spark.sql.shuffle.partitions", "8")))
    try:
        yield db_api
    finally:
        # Only Splink's views and ours: another task of the DAG may share this session.
        for table in spark.catalog.listTables():
            if table.isTemporary and table.name not in before and table.name.startswith(_OWN_VIEWS):
                spark.catalog.uncacheTable(table.name)
                spark.catalog.dropTempView(table.name)


def score_candidates(db_api: Any, mentions: DataFrame, enterprises: DataFrame, config: LinkingConfig) -> DataFrame:
    """Every blocked (mention, enterprise) pair with Splink's match weight and probability.

    `mentions` and `enterprises` are feature frames with blocking keys (see features.py).
    The result reads Splink's cached tables: consume it inside `splink_session`.
    """
    from splink import Linker

    token = uuid.uuid4().hex[:10]
    # Splink puts the table whose name sorts first on the left: mentions are `_l`.
    left = db_api.register(mentions, table_name=f"a_mentions_{token}")
    right = db_api.register(enterprises, table_name=f"b_enterprises_{token}")
    linker = Linker([left, right], splink_settings(config), log_level=logging.WARNING)
    predictions = linker.inference.predict().as_spark_dataframe()
    return predictions.select(
        F.col("unique_id_l").alias("mention_id"),
        F.col("unique_id_r").alias("entity_id"),
        "match_weight", "match_probability", "name_text_l", "name_text_r", "reg_no_l", "reg_no_r",
    )


def decide(pairs: DataFrame, config: LinkingConfig) -> DataFrame:
    """Accepted name links: mention_id, entity_id, match_method, match_score."""
    consistent = pairs.where(
        F.col("reg_no_l").isNull() | F.col("reg_no_r").isNull() | (F.col("reg_no_l") == F.col("reg_no_r"))
    )
    order = Window.partitionBy("mention_id").orderBy(F.desc("match_weight"), "entity_id")
    ranked = consistent.withColumn("_rank", F.row_number().over(order)).withColumn(
        "_runner_up", F.lead("match_weight").over(order)
    )
    margin = F.col("match_weight") - F.coalesce(F.col("_runner_up"), F.lit(float("-inf")))
    accepted = ranked.where(
        (F.col("_rank") == 1)
        & (F.col("match_probability") >= config.min_probability)
        & (margin >= config.min_margin_bits)
    )
    method = F.when(F.col("name_text_l") == F.col("name_text_r"), "name_exact").otherwise("name_fuzzy")
    return accepted.select("mention_id", "entity_id", method.alias("match_method"),
                           F.round("match_probability", 6).alias("match_score"))
