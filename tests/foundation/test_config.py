from regulake.config import load_settings


def test_environment_overrides_point_at_a_cluster_and_object_storage():
    settings = load_settings(
        environ={
            "REGULAKE__SPARK__MASTER": "spark://spark-master:7077",
            "REGULAKE__LAKE__ROOT": "s3a://regulake/prod",
            "REGULAKE__SPARK__CONF__spark.executor.memory": "8g",
        }
    )
    assert settings.spark["master"] == "spark://spark-master:7077"
    assert settings.lake_root == "s3a://regulake/prod"
    assert not settings.is_local_lake
    assert settings.table_path("gold", "dim_enterprise") == "s3a://regulake/prod/gold/dim_enterprise"
    assert settings.spark["conf"]["spark.executor.memory"] == "8g"
    # untouched defaults survive a partial override
    assert settings.spark["conf"]["spark.sql.session.timeZone"] == "Asia/Shanghai"


def test_defaults_are_local_and_relative_lake_roots_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.spark["master"].startswith("local")
    assert settings.lake_root == str(tmp_path / "lake")
    assert settings.layers == ["bronze", "silver", "gold", "audit"]


def test_explicit_lake_root_wins_over_environment(tmp_path):
    settings = load_settings(lake_root=tmp_path, environ={"REGULAKE__LAKE__ROOT": "s3a://elsewhere"})
    assert settings.lake_root == str(tmp_path)


def test_session_conf_has_delta_and_no_metastore(tmp_path):
    from regulake.spark import session_conf

    conf = session_conf(load_settings(lake_root=tmp_path, environ={}))
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "delta-spark_4.1_2.13" in conf["spark.jars"]
