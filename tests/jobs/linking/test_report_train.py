"""synth.scoring.linking_report (pairwise precision/recall) and synth.scoring.linking_train (m/u estimation)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jobs.linking.config import load_linking_config
from synth.scoring import linking_report as report
from synth.scoring import linking_train as train

TRUTH = ("feed_id string, batch_date string, file_name string, record_no long, record_key string, "
         "entity_id string, id_kind string, name_variant string, defect string, expected string")
XREF = "feed_id string, record_key string, entity_id string, match_method string"


@pytest.fixture(scope="module")
def compared(spark):
    truth = spark.createDataFrame(
        [
            ("samr_penalty", "20240131", "p", 1, "P1", "E1", "uscc", None, None, "accepted"),
            ("samr_penalty", "20240131", "p", 2, "P2", "E2", "uscc", None, "check_digit", "accepted"),
            ("samr_penalty", "20240131", "p", 3, "P3", "E3", "uscc", None, "invalid_value", "quarantined"),
            ("hotline_12345", "20240131", "h", 1, "H1", "E1", "name", "exact", None, "accepted"),
            ("hotline_12345", "20240131", "h", 2, "H2", "E2", "name", "homophone", None, "accepted"),
            ("hotline_12345", "20240131", "h", 3, "H3", None, "name", "decoy", None, "accepted"),
            ("hotline_12345", "20240229", "h", 1, "H1", "E1", "name", "exact", None, "accepted"),  # later version
        ],
        TRUTH,
    )
    xref = spark.createDataFrame(
        [("samr_penalty", "P1", "E1", "uscc"), ("samr_penalty", "P2", "E2", "name_fuzzy"),
         ("hotline_12345", "H1", "E1", "name_exact"), ("hotline_12345", "H2", None, "none"),
         ("hotline_12345", "H3", "E9", "name_fuzzy")],
        XREF,
    )
    return report.compare(xref, report.truth_pairs(truth))


def test_quality_tables_count_pairs_per_feed_method_and_evidence(compared):
    tables = report.quality_tables(compared)
    per_feed = tables["per_feed"].set_index("feed_id")
    assert per_feed.loc["samr_penalty", ["truth_links", "predicted_links", "correct"]].tolist() == [2, 2, 2]
    assert per_feed.loc["hotline_12345", ["truth_links", "predicted_links", "correct"]].tolist() == [2, 2, 1]
    groups = tables["per_group"].set_index("evidence")
    # identifier: P1 only (P2 failed its check character: name-based)
    assert groups.loc["identifier", ["predicted_links", "precision", "truth_links", "recall"]].tolist() == \
        [1, 1.0, 1, 1.0]
    # names: P2, H1 right; H3 (a decoy) linked wrong; H2 missed
    assert groups.loc["name", ["predicted_links", "precision", "truth_links", "recall"]].tolist() == \
        [3, 0.6667, 3, 0.6667]
    variants = tables["per_variant"].set_index("name_variant")
    assert variants.loc["decoy", ["linked_wrong", "unlinked"]].tolist() == [1, 0]
    assert variants.loc["check_digit", "linked_right"] == 1


def test_write_report_replaces_only_the_generated_section(tmp_path, compared):
    out = tmp_path / "LINKING.md"
    out.write_text(f"# Design\n\nhand-written\n\n{report.BEGIN}\nold\n{report.END}\n\n## After\n", encoding="utf-8")
    markdown = report.render(report.quality_tables(compared),
                             {"generated_at": "now", "truth": "t", "lake": "l", "description": "test"})
    report.write_report(markdown, out)
    text = out.read_text(encoding="utf-8")
    assert "hand-written" in text and "## After" in text and "old" not in text
    assert text.count(report.BEGIN) == 1 and "| identifier |" in text


def test_estimate_gives_smoothed_m_and_u_per_level(spark):
    config = load_linking_config()
    legal = next(c for c in config.model["comparisons"] if c["output_column_name"] == "legal_form")
    config = dataclasses.replace(config, model={**config.model, "comparisons": [legal]})
    # legal_form levels: same family (gamma 1), other family (gamma 0), null (-1)
    pairs = spark.createDataFrame(
        [(True, 1)] * 8 + [(True, -1)] * 2 + [(False, 1)] * 3 + [(False, 0)] * 7,
        "is_match boolean, gamma_legal_form int",
    )
    model = train.estimate(pairs, config)
    assert model["prior"] == 0.5
    (same, m_same, u_same), (other, m_other, u_other) = model["legal_form"]
    assert (same, other) == ("same family", "other family")
    assert (m_same, m_other) == pytest.approx(((8 + 1) / (8 + 2), (0 + 1) / (8 + 2)))
    assert (u_same, u_other) == pytest.approx(((3 + 1) / (10 + 2), (7 + 1) / (10 + 2)))


def _estimated(config, m=0.123456789, u=0.5) -> dict:
    """A model in the form `train.estimate` returns, for the levels of `config`."""
    model: dict = {"prior": 0.25, "pairs": 8, "matches": 2}
    for comp in config.model["comparisons"]:
        model[comp["output_column_name"]] = [(level["label"], m, u) for level in comp["comparison_levels"]
                                             if not level.get("is_null_level")]
    return model


def test_write_model_writes_the_file_the_config_reads(tmp_path):
    config = load_linking_config()
    path = tmp_path / "linking_model.json"
    train.write_model(_estimated(config), path)
    assert json.loads(path.read_text(encoding="utf-8"))["_generated_by"].startswith("synth/scoring/linking_train.py")
    model = load_linking_config(model_path=path).model
    assert model["probability_two_random_records_match"] == 0.25
    levels = [level for comp in model["comparisons"] for level in comp["comparison_levels"]]
    assert {(level["m"], level["u"]) for level in levels if not level.get("is_null_level")} == {(0.123457, 0.5)}
    # the levels themselves (labels, SQL, null levels) are conf/linking.yaml's
    assert [[(lv["label"], lv["sql"]) for lv in c["comparison_levels"]] for c in model["comparisons"]] == \
        [[(lv["label"], lv["sql"]) for lv in c["comparison_levels"]] for c in config.model["comparisons"]]


def test_committed_model_is_in_the_layout_the_trainer_writes():
    config = load_linking_config()
    text = config.model_path.read_text(encoding="utf-8")
    trained = json.loads(text)
    estimated = {"prior": trained["probability_two_random_records_match"], "pairs": trained["pairs"],
                 "matches": trained["matches"]}
    for name, levels in trained["comparisons"].items():
        estimated[name] = [(label, numbers["m"], numbers["u"]) for label, numbers in levels.items()]
    assert train.render_model(estimated) == text


def test_a_level_the_model_file_lacks_is_refused(tmp_path):
    config = load_linking_config()
    model = _estimated(config)
    model["legal_form"] = model["legal_form"][:1]  # "other family" untrained
    path = tmp_path / "linking_model.json"
    train.write_model(model, path)
    with pytest.raises(ValueError, match="other family.*make train-linking"):
        load_linking_config(model_path=path)
