"""Estimate the name-linking model from generator truth and write conf/linking_model.json.

    make train-linking                                               # generate the training data, then train
    python -m synth.scoring.linking_train --generated DIR            # landing + truth of `regulake generate`
    python -m synth.scoring.linking_train --truth DIR --lake DIR     # silver of a pipeline run + its truth

conf/linking.yaml `model:` holds the comparison levels (labels and SQL, maintained by
hand); conf/linking_model.json, generated here and never edited, holds what is
estimated: the prior and each non-null level's m and u, by comparison and label.

Supervised Fellegi-Sunter: every blocked (mention, enterprise) pair of the name-routed
mentions is labelled by the truth (match = the mention's true enterprise). For each
comparison level, m = P(level | match) and u = P(level | non-match) among blocked
pairs, and the prior is the share of matches among blocked pairs; Splink's posterior
is then calibrated for the population it scores, which is exactly the blocked pairs.
Counts get add-one smoothing so a level never seen among matches keeps a small m
instead of an infinite penalty. Also prints precision and recall of the decision rule
over a grid of thresholds (the calibration table of docs/LINKING.md).

Train on one generated seed, report on another (`python -m synth.scoring.linking_report`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import uuid
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.linking import deterministic, features, scoring
from jobs.linking.config import LinkingConfig, load_linking_config
from jobs.linking.job import ENTERPRISE_FEED, latest_enterprises
from jobs.linking.mentions import all_mentions


def labelled_pairs(db_api, silver: dict[str, DataFrame], truth_records: DataFrame,
                   config: LinkingConfig) -> DataFrame:
    """Blocked pairs of the name-routed mentions with gamma columns and `is_match` (consume in the session)."""
    enterprises = latest_enterprises(silver[ENTERPRISE_FEED]).localCheckpoint()
    mentions = all_mentions(silver, config)
    classified = deterministic.classify_identifiers(mentions)
    index = deterministic.identifier_index(enterprises)
    id_links = deterministic.link_by_identifier(classified, index, enterprises, config)
    routed = deterministic.identifier_outcome(classified, id_links, config).where("to_names")
    mention_frame = features.with_blocking_keys(features.mention_features(routed), config.blocking_keys)
    enterprise_frame = features.cap_blocks(
        features.with_blocking_keys(features.enterprise_features(enterprises), config.blocking_keys),
        config.blocking_keys, config.max_block,
    )
    from splink import Linker

    token = uuid.uuid4().hex[:10]
    left = db_api.register(mention_frame.localCheckpoint(), table_name=f"a_train_mentions_{token}")
    right = db_api.register(enterprise_frame.localCheckpoint(), table_name=f"b_train_enterprises_{token}")
    linker = Linker([left, right], scoring.splink_settings(config), log_level=logging.WARNING)
    pairs = linker.inference.predict().as_spark_dataframe()
    truth = truth_records.where("expected = 'accepted'").select(
        F.concat_ws("#", "feed_id", "record_key").alias("unique_id_l"), F.col("entity_id").alias("true_entity")
    ).dropDuplicates(["unique_id_l"])
    return pairs.join(truth, "unique_id_l", "left").withColumn(
        "is_match", F.coalesce(F.col("unique_id_r") == F.col("true_entity"), F.lit(False))
    )


def estimate(pairs: DataFrame, config: LinkingConfig) -> dict:
    """{'prior': p, comparison: [(label, m, u), ...]} from labelled pairs."""
    counts = pairs.groupBy("is_match").count().toPandas().set_index("is_match")["count"]
    n_match, n_non = int(counts.get(True, 0)), int(counts.get(False, 0))
    model: dict = {"prior": round(n_match / max(1, n_match + n_non), 6), "pairs": n_match + n_non,
                   "matches": n_match}
    for comp in config.model["comparisons"]:
        name = comp["output_column_name"]
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        gamma = pairs.groupBy(f"gamma_{name}", "is_match").count().toPandas()
        out = []
        for i, level in enumerate(levels):
            g = len(levels) - 1 - i  # Splink numbers non-null levels from the top one down to 0
            m_n = int(gamma[(gamma[f"gamma_{name}"] == g) & gamma.is_match]["count"].sum())
            u_n = int(gamma[(gamma[f"gamma_{name}"] == g) & ~gamma.is_match]["count"].sum())
            m_tot = int(gamma[(gamma[f"gamma_{name}"] >= 0) & gamma.is_match]["count"].sum())
            u_tot = int(gamma[(gamma[f"gamma_{name}"] >= 0) & ~gamma.is_match]["count"].sum())
            out.append((level["label"], (m_n + 1) / (m_tot + len(levels)), (u_n + 1) / (u_tot + len(levels))))
        model[name] = out
    return model


def calibration(pairs: DataFrame, config: LinkingConfig, probabilities=(0.5, 0.8, 0.9, 0.95, 0.99),
                margins=(0.0, 1.0, 3.0, 5.0)) -> pd.DataFrame:
    """Precision/recall of the decision rule over a threshold grid (pairs must carry is_match)."""
    truth_n = pairs.where("is_match").select("unique_id_l").distinct().count()
    rows = []
    for p in probabilities:
        for margin in margins:
            trial = dataclasses.replace(config, min_probability=p, min_margin_bits=margin)
            decided = scoring.decide(
                pairs.select(F.col("unique_id_l").alias("mention_id"), F.col("unique_id_r").alias("entity_id"),
                             "match_weight", "match_probability", "name_text_l", "name_text_r", "reg_no_l",
                             "reg_no_r"),
                trial,
            )
            labelled = decided.join(
                pairs.select(F.col("unique_id_l").alias("mention_id"), F.col("unique_id_r").alias("entity_id"),
                             "is_match"), ["mention_id", "entity_id"])
            n = labelled.count()
            ok = labelled.where("is_match").count()
            rows.append({"min_probability": p, "min_margin_bits": margin, "links": n,
                         "precision": round(ok / n, 4) if n else None,
                         "recall_of_blocked_matches": round(ok / truth_n, 4) if truth_n else None})
    return pd.DataFrame(rows)


GENERATED_BY = ("synth/scoring/linking_train.py (make train-linking) from generator truth, for the comparison "
                "levels of conf/linking.yaml `model:`. Do not edit: retrain.")
_STATS = ("prior", "pairs", "matches")


def render_model(model: dict) -> str:
    """The model file's text: the prior, the training counts, then m and u per comparison and level
    label (6 significant digits), one level a line."""
    comparisons = [name for name in model if name not in _STATS]
    lines = ["{",
             f'  "_generated_by": {json.dumps(GENERATED_BY)},',
             f'  "probability_two_random_records_match": {json.dumps(model["prior"])},',
             f'  "pairs": {json.dumps(model.get("pairs"))},',
             f'  "matches": {json.dumps(model.get("matches"))},',
             '  "comparisons": {']
    for i, name in enumerate(comparisons):
        lines.append(f"    {json.dumps(name)}: {{")
        levels = model[name]
        for j, (label, m, u) in enumerate(levels):
            numbers = json.dumps({"m": float(f"{m:.6g}"), "u": float(f"{u:.6g}")})
            lines.append(f"      {json.dumps(label, ensure_ascii=False)}: {numbers}{',' if j < len(levels) - 1 else ''}")
        lines.append("    }" + ("," if i < len(comparisons) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def write_model(model: dict, path: Path) -> None:
    """Write the estimated model (see `estimate`) to the model file, replacing it."""
    path.write_text(render_model(model), encoding="utf-8")


def _silver(spark: SparkSession, args: argparse.Namespace, config: LinkingConfig) -> dict[str, DataFrame]:
    if args.generated:
        from synth.scoring.devsilver import silver_frames

        return {k: v.localCheckpoint() for k, v in silver_frames(spark, args.generated, list(config.feeds)).items()}
    from jobs.linking.job import read_silver_current
    from regulake.config import load_settings

    return read_silver_current(spark, load_settings(lake_root=args.lake), config)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=Path, help="output folder of `regulake generate` (landing + truth)")
    parser.add_argument("--truth", type=Path, help="truth folder, with --lake")
    parser.add_argument("--lake", type=Path, help="lake root whose silver to train on, with --truth")
    parser.add_argument("--dry-run", action="store_true", help="print, do not rewrite conf/linking_model.json")
    args = parser.parse_args(argv)
    if not args.generated and not (args.truth and args.lake):
        parser.error("give --generated DIR, or --truth DIR and --lake DIR")
    truth_dir = (args.generated / "truth") if args.generated else args.truth

    from regulake.config import load_settings
    from regulake.spark import get_spark

    config = load_linking_config()
    spark = get_spark(load_settings(lake_root=args.lake or "/tmp/regulake-train-lake"), app_name="regulake-train")
    silver = _silver(spark, args, config)
    truth = spark.read.parquet(str(truth_dir / "records.parquet"))
    with scoring.splink_session(spark) as db_api:
        pairs = labelled_pairs(db_api, silver, truth, config).localCheckpoint()
    model = estimate(pairs, config)
    pd.set_option("display.width", 200)
    print(f"pairs {model['pairs']}, matches {model['matches']}, prior {model['prior']}")
    for comp in config.model["comparisons"]:
        name = comp["output_column_name"]
        print(pd.DataFrame(model[name], columns=["level", "m", "u"]).to_string(index=False))
    if not args.dry_run:
        write_model(model, config.model_path)
        config = load_linking_config()
        with scoring.splink_session(spark) as db_api:
            pairs = labelled_pairs(db_api, silver, truth, config).localCheckpoint()
    print(calibration(pairs, config).to_string(index=False))


if __name__ == "__main__":
    main()
