from tests.scorecards.conftest import lean_spark  # noqa: F401 - the same lean settings, autouse
