"""jobs.linking.persons: legal representatives, one person across enterprises by RIC."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from jobs.linking.persons import enterprise_person

from .helpers import ric


def test_person_with_ric_is_one_key_across_enterprises_and_a_bare_name_is_not(spark):
    enterprises = spark.createDataFrame(
        [("E1", " 胡保国 ", ric(1).lower(), "存续"), ("E2", "胡保国", ric(1), "吊销"),
         ("E3", "王伟", None, "存续"), ("E4", "王伟", None, "存续"), ("E5", None, None, "存续")],
        "uscc string, legal_rep_name string, legal_rep_id_no string, status string",
    )
    assertDataFrameEqual(
        enterprise_person(enterprises),
        spark.createDataFrame(
            [("E1", f"ric:{ric(1)}", "ric", "胡保国", ric(1), "legal_representative", 2, "存续"),
             ("E2", f"ric:{ric(1)}", "ric", "胡保国", ric(1), "legal_representative", 2, "吊销"),
             ("E3", "name:王伟@E3", "name", "王伟", None, "legal_representative", 1, "存续"),
             ("E4", "name:王伟@E4", "name", "王伟", None, "legal_representative", 1, "存续")],
            "entity_id string, person_key string, key_method string, person_name string, person_ric string, "
            "role string, enterprises_represented long, ent_status string",
        ),
    )
