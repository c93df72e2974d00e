"""StageContext and the run's one as-of date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from regulake.config import load_settings
from regulake.stage import StageContext, run_as_of


@pytest.fixture(scope="module")
def settings():
    return load_settings(lake_root="/tmp/regulake-stage-test")


def test_the_param_wins(settings):
    assert run_as_of("2024-03-31", datetime(2026, 1, 1, tzinfo=UTC), settings) == date(2024, 3, 31)


def test_a_run_across_midnight_keeps_the_day_it_was_created(settings, monkeypatch):
    """Tasks of one run ask at different wall-clock times, before and after midnight: one date."""
    import regulake.stage as stage

    created = datetime(2024, 3, 31, 15, 58, tzinfo=UTC)  # 23:58 in Asia/Shanghai
    answers = set()
    for minutes in (0, 5, 90):  # the tasks' own clocks, the later ones past midnight

        class Clock(datetime):
            @classmethod
            def now(cls, tz=None, _at=created + timedelta(minutes=minutes)):
                return _at.astimezone(tz) if tz else _at.replace(tzinfo=None)

        monkeypatch.setattr(stage, "datetime", Clock)
        answers.add(run_as_of(None, created, settings))
    assert answers == {date(2024, 3, 31)}


def test_the_day_is_the_lakes_time_zone(settings):
    # 16:30 UTC on 31 March is already 1 April in Asia/Shanghai (the configured session time zone)
    assert run_as_of(None, datetime(2024, 3, 31, 16, 30, tzinfo=UTC), settings) == date(2024, 4, 1)


def test_a_mapped_stage_needs_its_feed(settings):
    ctx = StageContext(settings=settings, run_id="r", as_of=date(2024, 3, 31))
    with pytest.raises(ValueError, match="per feed"):
        ctx.require_feed()
    assert ctx.for_feed("samr_penalty").require_feed() == "samr_penalty"
