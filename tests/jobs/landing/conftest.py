"""Fixtures for landing tests: tiny deliveries written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import write_delivery


@pytest.fixture
def make_delivery(tmp_path: Path) -> Callable[..., Path]:
    root = tmp_path / "landing"
    root.mkdir(exist_ok=True)

    def make(*args, **kwargs) -> Path:
        return write_delivery(root, *args, **kwargs)

    make.root = root  # type: ignore[attr-defined]
    return make
