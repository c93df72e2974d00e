"""Lean Spark settings for the report tests (tiny tables: fixed costs dominate)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _lean(lean_spark):
    """Every module here runs with tests/conftest.py's LEAN_CONF."""
    yield
