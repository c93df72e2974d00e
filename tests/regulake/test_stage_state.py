"""What counts as a stage's code: source files, not what tools write beside them."""

from __future__ import annotations

from regulake.stage_state import files_digest


def test_tool_output_beside_the_code_does_not_change_the_digest(tmp_path):
    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "fct.sql").write_text("select 1", encoding="utf-8")
    before = files_digest([project])
    # dbt's first run in a fresh clone writes these; none of them is code
    (project / ".user.yml").write_text("id: 5f1c", encoding="utf-8")
    for folder in ("target", "logs"):
        (project / folder).mkdir()
        (project / folder / "out.json").write_text("{}", encoding="utf-8")
    assert files_digest([project]) == before
    (project / "models" / "fct.sql").write_text("select 2", encoding="utf-8")
    assert files_digest([project]) != before


def _commit(lake, layer: str, table: str, version: int) -> None:
    log = lake / layer / table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text("{}")


def test_a_run_builds_after_promotion_only_when_something_is_new_or_asked_for(tmp_path):
    from regulake.config import load_settings
    from regulake.stage_state import LAST_COMPLETE_RUN, nothing_to_build, record_complete_run

    settings = load_settings(lake_root=str(tmp_path))
    assert nothing_to_build(settings, "2024-03-31", as_of_asked=False, rebuild=True) \
        == "nothing has been promoted to silver yet"
    _commit(tmp_path, "silver", "samr_enterprise", 0)
    assert nothing_to_build(settings, "2024-03-31", as_of_asked=False, rebuild=False) is None, \
        "no run got to its end yet (a killed run records nothing): build"
    record_complete_run(settings, "run-1", "2024-03-31")
    why = nothing_to_build(settings, "2024-03-31", as_of_asked=False, rebuild=False)
    assert why and "run-1" in why and "--rebuild" in why
    assert nothing_to_build(settings, "2024-04-01", as_of_asked=False, rebuild=False), "a new day alone is nothing new"
    assert nothing_to_build(settings, "2024-04-30", as_of_asked=True, rebuild=False) is None, "another as-of asked for"
    assert nothing_to_build(settings, "2024-03-31", as_of_asked=False, rebuild=True) is None
    _commit(tmp_path, "silver", "samr_enterprise", 1)
    assert nothing_to_build(settings, "2024-03-31", as_of_asked=False, rebuild=False) is None, "silver changed"
    record_complete_run(settings, "run-2", "2024-03-31")
    stamp = (tmp_path / LAST_COMPLETE_RUN).stat().st_mtime_ns
    record_complete_run(settings, "run-3", "2024-03-31")
    assert (tmp_path / LAST_COMPLETE_RUN).stat().st_mtime_ns == stamp, "nothing changed: not rewritten"
