"""GX suites derived from schemas/ and the custom expectations (Spark and pandas engines agree)."""

from __future__ import annotations

import json

import great_expectations as gx
import pytest

from jobs.silver.expectations import (
    ExpectColumnValuesToBeValidIndustryCode,
    ExpectColumnValuesToBeValidOrgCode,
    ExpectColumnValuesToBeValidRegionCode,
    ExpectColumnValuesToBeValidRegNo,
    ExpectColumnValuesToBeValidRic,
    ExpectColumnValuesToBeValidUscc,
    build_suite,
    render_suite,
)
from jobs.silver.quality import feed_quality
from regulake.feeds import load_all_feeds, load_feed


@pytest.mark.parametrize("feed_id", sorted(load_all_feeds()))
def test_suite_for_review_is_json_and_the_same_on_every_render(feed_id):
    """expectations/<feed>.json (`make generate`, not committed) is plain JSON with no random ids."""
    schema = load_feed(feed_id)
    rendered = json.dumps(render_suite(schema, feed_quality(schema)), sort_keys=True)
    assert json.loads(rendered)["expectations"]
    assert rendered == json.dumps(render_suite(schema, feed_quality(schema)), sort_keys=True)


def test_suite_covers_every_rule_of_samr_enterprise():
    schema = load_feed("samr_enterprise")
    suite = build_suite(schema, feed_quality(schema), rows=200)
    by_type: dict[str, set[str]] = {}
    for expectation in suite.expectations:
        by_type.setdefault(expectation.expectation_type, set()).add(expectation.column)
    assert by_type["expect_column_values_to_be_valid_uscc"] == {"uscc"}
    assert by_type["expect_column_values_to_be_valid_ric"] == {"legal_rep_id_no"}
    assert by_type["expect_column_values_to_be_valid_org_code"] == {"org_code"}
    assert by_type["expect_column_values_to_be_valid_reg_no"] == {"reg_no"}
    assert by_type["expect_column_values_to_be_valid_region_code"] == {"region_code"}
    assert by_type["expect_column_values_to_be_valid_industry_code"] == {"industry_code"}
    assert "ent_name__status" in by_type["expect_column_values_to_not_be_null"]
    assert "_reason_code" in by_type["expect_column_values_to_be_null"]
    # The uscc is strict for samr_enterprise: a check-digit failure is not tolerated as a flag.
    status = next(e for e in suite.expectations
                  if e.expectation_type == "expect_column_values_to_be_in_set" and e.column == "uscc__status")
    assert status.value_set == ["ok"] and status.mostly == 0.95


CASES = {
    "uscc": ["91411723MA92CK0T2L", "91410105786657759N", "91411723MA92CK0T2M", None],
    "ric": ["41272619950606701X", "410726199208155386", "412726199506067011", None],
    "org_code": ["MA92CK0T2", "786657759", "MA92CK0T3", None],
    "reg_no": ["410105159466164", "410185371645723", "410105159466165", None],
    "region": ["410105", "419001", "110105", None],
    "industry": ["C13", "T97", "A13", None],
}
CUSTOM = [(ExpectColumnValuesToBeValidUscc, "uscc"), (ExpectColumnValuesToBeValidRic, "ric"),
          (ExpectColumnValuesToBeValidOrgCode, "org_code"), (ExpectColumnValuesToBeValidRegNo, "reg_no"),
          (ExpectColumnValuesToBeValidRegionCode, "region"), (ExpectColumnValuesToBeValidIndustryCode, "industry")]


def _unexpected(context, source, frame) -> dict[str, tuple[int, list]]:
    definition = source.add_dataframe_asset("cases").add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(
        name=f"custom-{source.name}", expectations=[cls(column=column) for cls, column in CUSTOM]))
    result = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"custom-{source.name}", data=definition, suite=suite)
    ).run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    return {r.expectation_config.kwargs["column"]: (r.result["unexpected_count"], r.result["partial_unexpected_list"])
            for r in result.results}


def test_custom_expectations_agree_on_spark_and_pandas(spark):
    rows = list(zip(*CASES.values(), strict=True))
    frame = spark.createDataFrame(rows, ", ".join(f"{c} string" for c in CASES))
    context = gx.get_context(mode="ephemeral")
    on_spark = _unexpected(context, context.data_sources.add_spark("spark"), frame)
    on_pandas = _unexpected(context, context.data_sources.add_pandas("pandas"), frame.toPandas())
    expected = {column: (1, [values[2]]) for column, values in CASES.items()}
    assert on_spark == expected
    assert on_pandas == expected
