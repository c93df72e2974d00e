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
