"""The deletion-request rules (conf/erasure.yaml) and the RIC a request names: checked before any table is touched."""

from __future__ import annotations

import pytest

from jobs.maintenance.erasure import load_rules, normalized_ric
from regulake.config import ConfigError
from regulake.feeds import load_feed


def test_the_shipped_rules_cover_every_ric_column_of_the_feeds():
    rules = load_rules()
    assert all(rule.delete or rule.redact for rule in rules.values())
    for feed_id in ("samr_enterprise", "court_dishonest", "personnel"):
        schema = load_feed(feed_id)
        for layer in ("bronze", "silver"):  # bronze keeps the delivered column names, silver the aliases
            ric_columns = {c.name if layer == "bronze" else c.alias for c in schema.columns
                           if c.type in ("ric", "party_id")}
            rule = rules[(layer, feed_id)]
            assert ric_columns <= set(rule.match.ric) and ric_columns <= set(rule.redact), (layer, feed_id)
    assert rules[("gold", "dim_person")].delete and rules[("gold", "enterprise_person")].delete


def test_a_rule_without_an_action_or_a_layer_is_refused(tmp_path):
    bad = tmp_path / "erasure.yaml"
    bad.write_text("version: x\ntables:\n  silver.samr_enterprise: {match: {ric: [legal_rep_id_no]}}\n")
    with pytest.raises(ValueError, match="delete: true or redact"):
        load_rules(bad)
    bad.write_text("version: x\ntables:\n  samr_enterprise: {match: {ric: [a]}, delete: true}\n")
    with pytest.raises(ValueError, match="layer.table"):
        load_rules(bad)
    bad.write_text("version: x\ntables:\n  silver.x: {match: {rics: [a]}, delete: true}\n")
    with pytest.raises((ConfigError, ValueError)):
        load_rules(bad)


def test_the_ric_is_normalised_and_checked():
    assert normalized_ric(" 11010519491231002x ") == "11010519491231002X"
    assert normalized_ric("110105-19491231-002X") == "11010519491231002X"
    for wrong in ("110105194912310021", "1101051949123100", "", "91410100MA000001X1"):
        with pytest.raises(ValueError, match="resident identity card"):
            normalized_ric(wrong)
