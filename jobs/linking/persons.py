"""gold.enterprise_person: who legally represents which enterprise.

One row per enterprise and legal representative (the register names one). A person
is identified by RIC when samr_enterprise delivers it (`person_key` `ric:<RIC>`), so a
person representing several enterprises has one key across them and
`enterprises_represented` counts them. A representative delivered without RIC is
known by name only; a name does not identify a person (王伟 represents many
unrelated enterprises), so such a row's key is scoped to its enterprise
(`name:<name>@<USCC>`) and is never merged with others.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PERSON_COLUMNS = ("entity_id", "person_key", "key_method", "person_name", "person_ric", "role",
                  "enterprises_represented", "ent_status")


def enterprise_person(enterprises: DataFrame) -> DataFrame:
    """Legal representatives of `enterprises` (latest registrations: uscc, legal_rep_name, legal_rep_id_no, status)."""
    ric = F.upper(F.regexp_replace(F.col("legal_rep_id_no"), r"[\s\-_]", ""))
    ric = F.when(ric.rlike(r"^\d{17}[\dX]$"), ric)
    name = F.regexp_replace(F.col("legal_rep_name"), r"\s+", "")
    people = enterprises.select(
        F.col("uscc").alias("entity_id"),
        F.when(name != "", name).alias("person_name"),
        ric.alias("person_ric"),
        F.col("status").alias("ent_status"),
    ).where(F.col("person_name").isNotNull() | F.col("person_ric").isNotNull())
    key = F.coalesce(
        F.concat(F.lit("ric:"), F.col("person_ric")),
        F.concat(F.lit("name:"), F.col("person_name"), F.lit("@"), F.col("entity_id")),
    )
    return (
        people.withColumn("person_key", key)
        .withColumn("key_method", F.when(F.col("person_ric").isNotNull(), "ric").otherwise("name"))
        .withColumn("role", F.lit("legal_representative"))
        .withColumn("enterprises_represented", F.count("*").over(Window.partitionBy("person_key")))
        .select(*PERSON_COLUMNS)
    )
