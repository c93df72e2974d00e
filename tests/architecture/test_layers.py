"""The layer rule: regulake/ (lake libraries) ← jobs/ (stages) ← dags/ and apps/ (may import both).

synth/ (test data: generator, conformance, truth scoring) may import the layers below it, but no
production module imports it. Checked on the source with `ast`, so a lazy import inside a function
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level packages of this repository it must never import
FORBIDDEN = {
    "regulake": {"jobs", "dags", "apps", "synth", "tests", "benchmarks"},
    "jobs": {"dags", "apps", "synth", "tests", "benchmarks"},
    "dags": {"synth", "tests", "benchmarks"},
    "apps": {"tests", "benchmarks"},
    "synth": {"dags", "tests", "benchmarks"},
}
# apps/cli.py's `generate` command is the one production door to the generator (a product feature).
ALLOWED = {("apps/cli.py", "synth")}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for imported in imported_packages(path) & FORBIDDEN[package]:
            if (relative, imported) not in ALLOWED:
                problems.append(f"{relative} imports {imported}")
    return problems


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package):
    assert violations(package) == []


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself can fail: a library module that imports a stage is reported."""
    (tmp_path / "regulake").mkdir()
    (tmp_path / "regulake" / "bad.py").write_text("def f():\n    from jobs.silver import job\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert violations("regulake") == ["regulake/bad.py imports jobs"]


def test_no_production_module_imports_the_test_data_package():
    offenders = [v for package in ("regulake", "jobs", "dags") for v in violations(package) if v.endswith("synth")]
    assert offenders == []
    cli = imported_packages(ROOT / "apps" / "cli.py")
    assert "synth" in cli  # the generator is reached only through `regulake generate`
    others = [p.relative_to(ROOT).as_posix() for p in (ROOT / "apps").rglob("*.py")
              if p.name != "cli.py" and "synth" in imported_packages(p)]
    assert others == []
