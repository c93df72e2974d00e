"""The endpoint's users file and settings: what `regulake users` writes and `regulake serve` passes on."""

from __future__ import annotations

import hashlib
import stat

import pytest

from apps.endpoint_users import UsersError, add_user, hash_line, list_users, remove_user, users_file
from apps.serve import Endpoint, EndpointSetupError, check_users, guard_conf, policy_properties, thrift_conf
from regulake.config import load_settings


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("REGULAKE__SERVE__USERS_FILE", str(tmp_path / "secrets" / "users"))
    return load_settings(lake_root=str(tmp_path / "lake"))


def test_a_line_holds_a_salted_pbkdf2_hash_that_the_jdk_can_check():
    # RFC 6070-style vector for PBKDF2-HMAC-SHA256 (password, salt, 1 round, 32 bytes).
    line = hash_line("ana", "analyst", "password", salt=b"salt", iterations=1)
    name, role, scheme, rounds, salt, digest = line.split(":")
    assert (name, role, scheme, rounds, salt) == ("ana", "analyst", "pbkdf2_sha256", "1", b"salt".hex())
    assert digest == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
    # A fresh random salt each time: equal passwords never give equal lines.
    assert hash_line("a", "analyst", "same-password-1") != hash_line("a", "analyst", "same-password-1")
    assert hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 1).hex() == digest


def test_users_are_added_updated_listed_and_removed_in_a_private_file(settings):
    assert add_user(settings, "ana", "analyst", "analyst-password-1") is True
    assert add_user(settings, "stew", "steward", "steward-password-1") is True
    assert add_user(settings, "ana", "steward", "another-password-2") is False
    assert [(u.name, u.role) for u in list_users(settings)] == [("ana", "steward"), ("stew", "steward")]
    path = users_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "analyst-password-1" not in path.read_text() and "another-password-2" not in path.read_text()
    assert remove_user(settings, "ana") is True and remove_user(settings, "ana") is False
    assert [u.name for u in list_users(settings)] == ["stew"]


@pytest.mark.parametrize(("name", "role", "password", "reason"), [
    ("ana", "admin", "long-enough-pass", "not one of serve.roles"),
    ("ana", "analyst", "short", "at least 12"),
    ("ana:steward", "analyst", "long-enough-pass", "user name"),
    ("", "analyst", "long-enough-pass", "user name"),
])
def test_a_bad_user_is_refused_with_the_reason(settings, name, role, password, reason):
    with pytest.raises(UsersError, match=reason):
        add_user(settings, name, role, password)
    assert not users_file(settings).exists()


def test_the_endpoint_refuses_to_start_without_users(settings):
    with pytest.raises(EndpointSetupError, match="regulake users add"):
        check_users(settings)
    add_user(settings, "ana", "analyst", "analyst-password-1")
    check_users(settings)


def test_login_is_required_tls_needs_its_password_and_clients_get_caps(settings):
    where = Endpoint("127.0.0.1", 10000)
    conf = thrift_conf(where, settings, environ={})
    assert conf["hive.server2.authentication"] == "CUSTOM"
    assert conf["hive.server2.custom.authentication.class"].endswith("PasswordFileAuthenticator")
    assert "hive.server2.use.SSL" not in conf
    tls = settings.with_overrides(serve={"tls": {"keystore": "/etc/regulake/endpoint.jks"}})
    with pytest.raises(EndpointSetupError, match="REGULAKE_SERVE_KEYSTORE_PASSWORD"):
        thrift_conf(where, tls, environ={})
    secured = thrift_conf(where, tls, environ={"REGULAKE_SERVE_KEYSTORE_PASSWORD": "s3cret"})
    assert secured["hive.server2.use.SSL"] == "true"
    assert secured["hive.server2.keystore.path"] == "/etc/regulake/endpoint.jks"
    caps = guard_conf(settings)
    assert caps["spark.sql.runSQLOnFiles"] == "false"
    assert caps["spark.sql.thriftServer.queryTimeout"] == "300s" and caps["spark.driver.maxResultSize"] == "256m"
    assert caps["spark.sql.extensions"].endswith("GuardExtension")


def test_the_policy_lists_each_roles_grants(settings):
    policy = policy_properties(settings).splitlines()
    assert "role.steward = *" in policy
    analyst = next(line for line in policy if line.startswith("role.analyst = "))
    assert "public.*" in analyst and "gold.enterprise_risk_class" in analyst
    assert "gold.enterprise_person" not in analyst and "gold.dim_person" not in analyst
    assert "settable = spark.sql.session.timeZone" in policy
