"""Fixtures for landing tests: tiny deliveries written into tmp_path, and a fresh lake per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from regulake.config import Settings

from .deliveries import write_delivery


@pytest.fixture
def make_delivery(tmp_path: Path) -> Callable[..., Path]:
    root = tmp_path / "landing"
    root.mkdir(exist_ok=True)

    def make(*args, **kwargs) -> Path:
        return write_delivery(root, *args, **kwargs)

    make.root = root  # type: ignore[attr-defined]
    return make


@pytest.fixture
def fresh_lake(tmp_path: Path, lake_settings: Settings) -> Settings:
    """Settings like the session's, on a lake of this test's own (tables read by path)."""
    return lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake")})
