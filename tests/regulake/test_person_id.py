"""Issue 18: person_id is a keyed hash with a secret salt, not the reversible md5('ric:' + RIC)."""

from __future__ import annotations

import hashlib
import stat

import pytest

from regulake.config import load_settings
from regulake.person_id import SALT_ENV, PersonIdSaltError, person_id, person_id_salt, salt_path

RIC = "410105198001011237"
SALT_A = "a" * 64
SALT_B = "b" * 64


def test_person_id_is_keyed_not_the_md5_of_the_ric():
    key = f"ric:{RIC}"
    assert person_id(SALT_A, key) != hashlib.md5(key.encode()).hexdigest()
    assert person_id(SALT_A, key) == person_id(SALT_A, key)  # stable for one salt
    assert person_id(SALT_A, key) != person_id(SALT_B, key)  # another lake's salt, another id
    assert len(person_id(SALT_A, key)) == 64


def test_the_lake_generates_its_salt_once_private_and_keeps_it(tmp_path):
    settings = load_settings(lake_root=tmp_path / "lake")
    first = person_id_salt(settings, environ={})
    assert first == person_id_salt(settings, environ={})  # reruns on the same lake: the same ids
    path = salt_path(settings)
    assert path.is_file() and path.is_relative_to(tmp_path / "lake")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    other = person_id_salt(load_settings(lake_root=tmp_path / "other"), environ={})
    assert other != first and len(first) == 64


def test_the_environment_salt_wins_and_is_checked(tmp_path):
    settings = load_settings(lake_root=tmp_path / "lake")
    assert person_id_salt(settings, environ={SALT_ENV: SALT_B}) == SALT_B
    assert not salt_path(settings).exists()  # nothing generated when the deployment gives one
    for bad in ("short", "x' or '1'='1" + "x" * 40):
        with pytest.raises(PersonIdSaltError, match=SALT_ENV):
            person_id_salt(settings, environ={SALT_ENV: bad})


def test_a_lake_on_object_storage_needs_the_environment_salt():
    settings = load_settings(lake_root="s3a://bucket/lake")
    with pytest.raises(PersonIdSaltError, match=SALT_ENV):
        person_id_salt(settings, environ={})
    assert person_id_salt(settings, environ={SALT_ENV: SALT_A}) == SALT_A
