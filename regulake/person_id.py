"""person_id: a keyed hash of a person's key, so that nobody without the lake's secret can reverse it.

`person_id = md5('ric:' + RIC)` could be reversed by hashing every possible RIC (a region,
a birth date and a 3-digit sequence: a few billion candidates). The id is now
`sha2(<salt> || '|' || person_key, 256)` with a secret salt of 256 random bits:

* from the environment variable REGULAKE_PERSON_ID_SALT when it is set (a deployment's
  secret store; required for a lake on object storage);
* else from `<lake_root>/_secrets/person_id_salt`, generated once per lake (0600, in a 0700
  folder), so every rerun on the same lake computes the same ids.

dbt computes the id (the one macro `person_id`, dbt_project/macros/person_id.sql). The salt
reaches it as the Spark session setting SALT_CONF, which the macro's SQL names as
`${regulake.person_id_salt}` (Spark's variable substitution): the secret never appears in
dbt's compiled SQL, run results, logs or docs. `person_id()` below is the macro's Python twin.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regulake.config import Settings

SALT_ENV = "REGULAKE_PERSON_ID_SALT"
SALT_CONF = "regulake.person_id_salt"
SALT_FILE = ("_secrets", "person_id_salt")
_SALT = re.compile(r"^[A-Za-z0-9_\-+/=.]{32,256}$")  # goes into a SQL literal: no quote, no backslash


class PersonIdSaltError(RuntimeError):
    """No usable person_id salt."""


def _checked(salt: str, origin: str) -> str:
    salt = salt.strip()
    if not _SALT.fullmatch(salt):
        raise PersonIdSaltError(f"{origin}: a person_id salt must be 32 to 256 characters of "
                                f"[A-Za-z0-9_-+/=.] (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return salt


def salt_path(settings: Settings) -> Path | None:
    """Where the lake keeps its generated salt; None for a lake on object storage."""
    if not settings.is_local_lake:
        return None
    return Path(settings.lake_root.removeprefix("file://"), *SALT_FILE)


def person_id_salt(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The lake's person_id salt: REGULAKE_PERSON_ID_SALT, else the lake's own (created on first use)."""
    environ = os.environ if environ is None else environ
    if environ.get(SALT_ENV, "").strip():
        return _checked(environ[SALT_ENV], SALT_ENV)
    path = salt_path(settings)
    if path is None:
        raise PersonIdSaltError(f"lake {settings.lake_root} is not local: set {SALT_ENV} "
                                f"(a secret kept outside the lake and the repository)")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:  # the lake's salt (or a concurrent run just wrote it)
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return _read(path)


def _read(path: Path) -> str:
    for _ in range(50):  # a concurrent creator may not have written yet
        text = path.read_text(encoding="ascii")
        if text.endswith("\n"):
            return _checked(text, str(path))
        time.sleep(0.1)
    return _checked(path.read_text(encoding="ascii"), str(path))


def person_id(salt: str, person_key: str) -> str:
    """What the dbt macro `person_id` computes for `person_key` (e.g. `ric:<RIC>`)."""
    return hashlib.sha256(f"{salt}|{person_key}".encode()).hexdigest()
