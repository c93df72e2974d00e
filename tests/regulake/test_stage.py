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
    assert run_as_of("2024-03-31", datetime(2026, 1, 1, tzinfo=UTC), settings,
                     latest_batch=lambda: date(2024, 2, 29)) == (date(2024, 3, 31), "the as_of param")


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
        answers.add(run_as_of(None, created, settings)[0])
    assert answers == {date(2024, 3, 31)}


def test_the_day_is_the_lakes_time_zone(settings):
    # 16:30 UTC on 31 March is already 1 April in Asia/Shanghai (the configured session time zone)
    assert run_as_of(None, datetime(2024, 3, 31, 16, 30, tzinfo=UTC), settings)[0] == date(2024, 4, 1)


def test_historical_deliveries_are_classified_on_their_latest_batch_date(settings):
    as_of, why = run_as_of(None, datetime(2026, 12, 5, tzinfo=UTC), settings, latest_batch=lambda: date(2024, 3, 31))
    assert as_of == date(2024, 3, 31) and "latest batch" in why


def test_a_scheduled_run_uses_the_last_day_of_its_data_interval(settings):
    # @daily interval [4 Dec 16:00 UTC, 5 Dec 16:00 UTC) = 5 Dec 00:00 to 6 Dec 00:00 in Asia/Shanghai
    as_of, why = run_as_of(None, datetime(2026, 12, 5, 16, 1, tzinfo=UTC), settings,
                           scheduled_interval_end=datetime(2026, 12, 5, 16, 0, tzinfo=UTC),
                           latest_batch=lambda: date(2024, 3, 31))
    assert as_of == date(2026, 12, 5) and "data interval" in why


def test_latest_batch_date_reads_the_landing_folders(tmp_path):
    from jobs.landing.job import latest_batch_date

    for folder in ("samr_penalty/20240131", "samr_penalty/20240331", "tax_credit/20240229",
                   "tax_credit/_tmp", "not_a_feed/20251231"):
        (tmp_path / folder).mkdir(parents=True)
    assert latest_batch_date(str(tmp_path)) == date(2024, 3, 31)
    assert latest_batch_date(str(tmp_path / "samr_penalty")) is None  # no feed folders, no lake given


def test_a_mapped_stage_needs_its_feed(settings):
    ctx = StageContext(settings=settings, run_id="r", as_of=date(2024, 3, 31))
    with pytest.raises(ValueError, match="per feed"):
        ctx.require_feed()
    assert ctx.for_feed("samr_penalty").require_feed() == "samr_penalty"
