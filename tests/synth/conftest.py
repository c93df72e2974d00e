"""Generator test runs, made once per session and shared (the machine has 2 cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.generator import GenerationSummary, generate


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> GenerationSummary:
    """300 enterprises, 3 monthly batches: the determinism and conformance fixture."""
    return generate(tmp_path_factory.mktemp("gen300") / "out", 300, 3, seed=11, progress=False, workers=1)


@pytest.fixture(scope="session")
def defect_run(tmp_path_factory) -> GenerationSummary:
    """2,000 enterprises (the samples' size), 3 batches: large enough that every defect kind occurs."""
    return generate(tmp_path_factory.mktemp("gen2000") / "out", 2000, 3, seed=5, progress=False, workers=1)


@pytest.fixture(scope="session")
def long_run(tmp_path_factory) -> GenerationSummary:
    """Few enterprises, 5 batches: the manifest-level defects only planted in longer runs."""
    return generate(tmp_path_factory.mktemp("gen5b") / "out", 200, 5, seed=3, progress=False, workers=1)


def landing_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
