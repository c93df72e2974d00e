"""Users of the SQL endpoint for tests: a users file, and a client logging in as one of them."""

from __future__ import annotations

from pathlib import Path

from apps.endpoint_users import hash_line

ANALYST = ("analyst", "analyst-password-1")
STEWARD = ("steward", "steward-password-1")
# Fewer PBKDF2 rounds than production: the endpoint reads the count from the file.
TEST_ITERATIONS = 1000


def users_env(folder: Path) -> dict[str, str]:
    """Write an analyst and a steward to `folder`/endpoint-users; the variable pointing serve at it."""
    path = folder / "endpoint-users"
    lines = [hash_line(name, role, password, iterations=TEST_ITERATIONS)
             for (name, password), role in ((ANALYST, "analyst"), (STEWARD, "steward"))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return {"REGULAKE__SERVE__USERS_FILE": str(path)}


def connect(port: int, who: tuple[str, str] = ANALYST, **options):
    """A HiveServer2 connection with password login (PyHive's CUSTOM = SASL PLAIN)."""
    from pyhive import hive

    name, password = who
    return hive.connect(host="127.0.0.1", port=port, username=name, password=password, auth="CUSTOM", **options)
