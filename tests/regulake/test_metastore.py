"""catalog: hive_metastore settings (no JVM here; tests/cluster runs it on PostgreSQL)."""

from __future__ import annotations

import pytest

from regulake import metastore
from regulake.config import ConfigError, load_settings
from regulake.spark import session_conf

URL = "jdbc:postgresql://127.0.0.1:5433/metastore"


@pytest.fixture
def driver(monkeypatch, tmp_path):
    jar = tmp_path / "postgresql.jar"
    jar.write_bytes(b"")
    monkeypatch.setattr(metastore, "_driver_jar", lambda: str(jar))
    return str(jar)


def test_the_lake_path_catalog_is_the_default_and_in_memory():
    settings = load_settings()
    assert settings.config.catalog == "lake_path"
    assert session_conf(settings)["spark.sql.catalogImplementation"] == "in-memory"


def test_hive_metastore_points_spark_at_the_database_with_the_driver_on_the_system_classpath(
        driver, monkeypatch):
    monkeypatch.setenv("REGULAKE_METASTORE_PASSWORD", "s3cret")
    settings = load_settings().with_overrides(**{"catalog": "hive_metastore", "metastore.url": URL,
                                                 "metastore.user": "metastore"})
    conf = session_conf(settings)
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == URL
    assert conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "metastore"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] == "s3cret"
    assert driver in conf["spark.driver.extraClassPath"].split(":")
    # The schema SchemaTool created uses Hive's naming; the client must use the same.
    assert conf["spark.hadoop.datanucleus.identifierFactory"] == "datanucleus1"


def test_no_password_variable_means_no_password_setting(driver, monkeypatch):
    monkeypatch.delenv("REGULAKE_METASTORE_PASSWORD", raising=False)
    settings = load_settings().with_overrides(**{"catalog": "hive_metastore", "metastore.url": URL})
    assert not any("Password" in key for key in session_conf(settings))


def test_hive_metastore_without_a_url_names_the_setting(driver):
    settings = load_settings().with_overrides(catalog="hive_metastore")
    with pytest.raises(ConfigError, match="metastore.url"):
        session_conf(settings)


def test_an_unknown_catalog_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="catalog"):
        load_settings().with_overrides(catalog="glue")
