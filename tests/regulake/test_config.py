import pytest
import yaml

from regulake.config import CONF_DIR, ConfigError, conf_file, load_settings


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


# --- Typed configuration: unknown keys and misspelt overrides are errors -----------------

def _conf(name: str) -> dict:
    return yaml.safe_load((CONF_DIR / name).read_text(encoding="utf-8"))


def _write(path, data) -> str:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_unknown_key_in_the_file_is_an_error_naming_key_and_file(tmp_path):
    raw = _conf("regulake.yaml")
    raw["spark"]["mastr"] = "spark://typo:7077"
    path = _write(tmp_path / "regulake.yaml", raw)
    with pytest.raises(ConfigError, match=r"regulake\.yaml: unknown key 'spark\.mastr'") as error:
        load_settings(environ={"REGULAKE_CONFIG": path})
    assert path in str(error.value)


def test_misspelt_environment_override_is_an_error_naming_the_variable():
    with pytest.raises(ConfigError, match=r"environment variable REGULAKE__SPARK__MASTR: unknown key 'spark\.mastr'"):
        load_settings(environ={"REGULAKE__SPARK__MASTR": "spark://spark-master:7077"})
    with pytest.raises(ConfigError, match=r"REGULAKE__SPRK__MASTER: unknown key 'sprk'"):
        load_settings(environ={"REGULAKE__SPRK__MASTER": "spark://spark-master:7077"})
    with pytest.raises(ConfigError, match=r"REGULAKE__SERVE__PORT: serve\.port"):
        load_settings(environ={"REGULAKE__SERVE__PORT": "ten thousand"})
    with pytest.raises(ConfigError, match=r"REGULAKE__SPARK__JAR_SOURCE: spark\.jar_source"):
        load_settings(environ={"REGULAKE__SPARK__JAR_SOURCE": "maven"})


def test_spark_conf_stays_free_form_and_overrides_are_checked_too():
    settings = load_settings(environ={"REGULAKE__SPARK__CONF__spark.Any.new.Key": "1",
                                      "REGULAKE__SPARK__JAR_SOURCE": "packages"})
    assert settings.spark["conf"]["spark.Any.new.Key"] == 1
    assert settings.spark["jar_source"] == "packages"
    assert settings.with_overrides(spark={"conf": {"spark.x": "y"}}).spark["conf"]["spark.x"] == "y"
    with pytest.raises(ConfigError, match=r"override lake\.rooot: unknown key 'lake\.rooot'"):
        settings.with_overrides(**{"lake.rooot": "/tmp/lake"})


def test_conf_dir_swaps_the_files_it_holds_and_falls_back_to_conf(tmp_path, monkeypatch):
    from jobs.risk.config import load_risk_config

    deployment = tmp_path / "deployment"
    deployment.mkdir()
    raw = _conf("regulake.yaml")
    raw["lake"]["root"] = "s3a://deployment/lake"
    _write(deployment / "regulake.yaml", raw)
    risk = _conf("risk.yaml")
    risk["version"] = "deployment-1"
    _write(deployment / "risk.yaml", risk)

    environ = {"REGULAKE_CONF_DIR": str(deployment)}
    assert load_settings(environ=environ).lake_root == "s3a://deployment/lake"
    assert conf_file("risk.yaml", environ) == (deployment / "risk.yaml").resolve()
    assert conf_file("scorecards.yaml", environ) == CONF_DIR / "scorecards.yaml"   # not in the folder
    monkeypatch.setenv("REGULAKE_CONF_DIR", str(deployment))
    assert load_risk_config().version == "deployment-1"
    monkeypatch.delenv("REGULAKE_CONF_DIR")
    assert load_risk_config().version != "deployment-1"

    with pytest.raises(ConfigError, match="REGULAKE_CONF_DIR"):
        conf_file("risk.yaml", {"REGULAKE_CONF_DIR": str(tmp_path / "missing")})


def _bad(tmp_path, name: str, change) -> str:
    """conf/<name> with `change` applied, in a folder of its own (loaders cache by path)."""
    raw = _conf(name)
    change(raw)
    folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    return _write(folder / name, raw)


def test_unknown_keys_in_the_other_conf_files_name_file_and_key(tmp_path):
    from pathlib import Path

    from jobs.dbt.config import load_dbt_config
    from jobs.linking.config import load_linking_config
    from jobs.risk.config import load_risk_config
    from jobs.scorecards.config import load_config
    from jobs.silver.quality import gx_settings
    from regulake.names import name_rules
    from synth.generator.run import load_generator_config

    def check(loader, name, change, key):
        path = _bad(tmp_path, name, change)
        with pytest.raises(ConfigError, match=f"unknown key '{key}'") as error:
            loader(Path(path))
        assert path in str(error.value)

    check(load_risk_config, "risk.yaml", lambda r: r.update(bandz=[]), "bandz")
    check(load_risk_config, "risk.yaml", lambda r: r["categories"][0]["groups"][0]["indicators"][0].update(pointz=1),
          r"categories\[0\]\.groups\[0\]\.indicators\[0\]\.pointz")
    check(load_risk_config, "risk.yaml", lambda r: r["sampling"].update(seed=1), r"sampling\.seed")
    check(load_config, "scorecards.yaml", lambda r: r.update(region_levl="county"), "region_levl")
    check(load_config, "scorecards.yaml", lambda r: r["indicators"][0].update(wieght=1), r"indicators\[0\]\.wieght")
    check(load_dbt_config, "dbt.yaml", lambda r: r.update(thread=2), "thread")
    check(load_dbt_config, "dbt.yaml", lambda r: r["staging"]["samr_enterprise"].update(entity_=1),
          r"staging\.samr_enterprise\.entity_")
    check(gx_settings, "quality.yaml", lambda r: r["defaults"].update(max_quarantine=0.1), r"defaults\.max_quarantine")
    check(gx_settings, "quality.yaml", lambda r: r["feeds"].update(samr_enterprise={"strict": []}),
          r"feeds\.samr_enterprise\.strict")
    check(load_generator_config, "generator.yaml", lambda r: r.update(runs={}), "runs")
    check(load_generator_config, "generator.yaml", lambda r: r["feeds"]["samr_penalty"].update(per_yaer=1),
          r"feeds\.samr_penalty\.per_yaer")
    check(load_linking_config, "linking.yaml", lambda r: r["decision"].update(min_prob=0.9), r"decision\.min_prob")
    check(load_linking_config, "linking.yaml", lambda r: r.update(blockng={}), "blockng")
    check(name_rules, "linking.yaml", lambda r: r["names"].update(branch_marker=[]), r"names\.branch_marker")
