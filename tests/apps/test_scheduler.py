"""`regulake run --scheduler` reads Airflow's CLI output: JSON after whatever Airflow logs first."""

from __future__ import annotations

from apps.scheduler import _json_rows


def test_the_json_line_is_found_after_log_lines_that_also_start_with_a_bracket():
    text = ('[warning  ] Could not import graphviz.\n'
            'Run `pip install graphviz` [py.warnings]\n'
            '[{"run_id": "r1", "state": "running"}, {"run_id": "r2", "state": "success"}]\n')
    assert [row["state"] for row in _json_rows(text)] == ["running", "success"]


def test_no_rows_is_an_empty_list():
    assert _json_rows("[info] nothing\n[]\n") == []
    assert _json_rows("") == []
