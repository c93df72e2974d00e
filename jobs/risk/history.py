"""Monthly as-of runs keep history: each row carries the enterprise's previous class."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

CLASS_RANK = {"A": 1, "B": 2, "C": 3, "D": 4}


def class_rank(column: str) -> F.Column:
    mapping = F.create_map(*[F.lit(x) for kv in CLASS_RANK.items() for x in kv])
    return mapping[F.col(column)]


def latest_before(history: DataFrame | None, as_of: date) -> DataFrame | None:
    """Each enterprise's latest classification strictly before the as-of date."""
    if history is None:
        return None
    w = Window.partitionBy("entity_id").orderBy(F.desc("as_of_date"))
    return (
        history.where(F.col("as_of_date") < F.lit(as_of))
        .withColumn("_rank", F.row_number().over(w)).where("_rank = 1")
        .select("entity_id", F.col("as_of_date").alias("previous_as_of_date"),
                F.col("risk_class").alias("previous_class"), F.col("veto_reason").alias("previous_veto_reason"))
    )


def with_transitions(classes: DataFrame, history: DataFrame | None, as_of: date) -> DataFrame:
    """Add previous_as_of_date, previous_class, previous_veto_reason and class_change
    (steps up, negative when the class improved; null without a previous class)."""
    previous = latest_before(history, as_of)
    if previous is None:
        previous = classes.sparkSession.createDataFrame(
            [], "entity_id string, previous_as_of_date date, previous_class string, previous_veto_reason string"
        )
    joined = classes.join(previous, "entity_id", "left")
    return joined.withColumn("class_change", (class_rank("risk_class") - class_rank("previous_class")).cast("int"))
