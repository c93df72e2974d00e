"""docker/ describes the loopback cluster of scripts/cluster.sh: the same servers and versions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from regulake.jars import s3a_artifacts

PROJECT = Path(__file__).resolve().parents[2]
SCRIPT = (PROJECT / "scripts" / "cluster.sh").read_text()
COMPOSE = yaml.safe_load((PROJECT / "docker" / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT / "docker" / "Dockerfile").read_text()


def _script_value(name: str) -> str:
    match = re.search(rf"^{name}=\$?{{?[A-Z_]*:?-?([^}}\s]+)", SCRIPT, re.MULTILINE)
    assert match, f"{name} not set in scripts/cluster.sh"
    return match.group(1)


def _image(service: str) -> str:
    return COMPOSE["services"][service]["image"]


def test_the_object_store_is_the_same_seaweedfs_release():
    assert _image("seaweedfs") == f"chrislusf/seaweedfs:{_script_value('SEAWEEDFS_RELEASE')}"


def test_postgresql_has_the_same_major_version():
    major = re.search(r"/postgresql/(\d+)/bin", _script_value("PG_BIN")).group(1)
    assert _image("postgres").split(":")[1].split(".")[0] == major


def test_spark_gets_the_same_s3a_jars_on_both():
    compose_packages = yaml.safe_load(COMPOSE["x-regulake"]["environment"]["REGULAKE__SPARK__EXTRA_PACKAGES"])
    assert compose_packages == s3a_artifacts()
    assert "regulake.jars --cluster" in DOCKERFILE  # the image fetches what the script fetches


def test_one_image_with_the_locked_python_runs_spark_and_airflow():
    pyproject = (PROJECT / "pyproject.toml").read_text()
    python = re.search(r'--python-version (\d+\.\d+)', (PROJECT / "Makefile").read_text()).group(1)
    assert f"python{python}" in DOCKERFILE and f">={python}" in pyproject
    services = COMPOSE["services"]
    for name in ("spark-master", "spark-worker", "spark-history", "airflow-scheduler", "airflow-api-server",
                 "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["image"] == "regulake:local", name
    assert services["spark-worker"]["deploy"]["replicas"] == 2


def test_published_ports_are_loopback_only_and_secrets_come_from_the_env_file():
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    text = (PROJECT / "docker" / "docker-compose.yml").read_text()
    literal = re.search(r"^\s*\w*(PASSWORD|SECRET|ACCESS_KEY)\w*:\s*(?!\$\{)\S", text, re.MULTILINE)
    assert not literal, f"a secret is written into docker-compose.yml: {literal.group(0)}"
    assert "/docker/.env" in (PROJECT / ".gitignore").read_text()
    ignored = (PROJECT / ".dockerignore").read_text().split()
    for folder in (".venv/", ".cluster/", ".jars/", "lake/"):
        assert folder in ignored
