"""Fixtures of the silver tests: a throwaway lake per test."""

from __future__ import annotations

import pytest

from regulake.config import Settings


@pytest.fixture
def lake(spark, lake_settings, tmp_path) -> Settings:
    """Settings for a fresh lake of this test; the session's catalog follows it, then goes back."""
    from regulake.spark import get_spark

    settings = lake_settings.with_overrides(**{"lake.root": str(tmp_path / "lake")})
    get_spark(settings)
    yield settings
    get_spark(lake_settings)
