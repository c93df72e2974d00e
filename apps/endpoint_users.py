"""The SQL endpoint's users: names, roles and salted password hashes in one local file.

One line per user, `name:role:pbkdf2_sha256:iterations:salt_hex:hash_hex`, read by the endpoint's
CUSTOM authenticator (apps/jvm/.../Users.java) at each login, so adding or removing a user needs
no restart. The file lives on the server (`serve.users_file`, default `.secrets/endpoint-users`),
never in the lake or the repository; it is created 0600 in a 0700 folder. PBKDF2-HMAC-SHA256
with a 128-bit random salt per user: the JDK checks it without extra libraries.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from regulake.config import PROJECT_ROOT, Settings

ITERATIONS = 210_000  # OWASP's figure for PBKDF2-HMAC-SHA256
SCHEME = "pbkdf2_sha256"
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class UsersError(ValueError):
    """A user name, role or password the endpoint cannot accept."""


@dataclass(frozen=True)
class EndpointUser:
    name: str
    role: str


def users_file(settings: Settings) -> Path:
    path = Path(str((settings.section("serve") or {}).get("users_file", ".secrets/endpoint-users"))).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def roles(settings: Settings) -> dict[str, list[str]]:
    return dict((settings.section("serve") or {}).get("roles") or {})


def hash_line(name: str, role: str, password: str, *, salt: bytes | None = None,
              iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{name}:{role}:{SCHEME}:{iterations}:{salt.hex()}:{digest.hex()}"


def _read(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line.split(":", 1)[0]: line for line in lines if line and not line.startswith("#")}


def _write(path: Path, lines: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("# regulake SQL endpoint users: name:role:pbkdf2_sha256:iterations:salt:hash\n")
        handle.writelines(line + "\n" for line in lines.values())
    os.replace(temporary, path)  # the authenticator never reads a half-written file


def add_user(settings: Settings, name: str, role: str, password: str) -> bool:
    """Add the user or replace its role and password; True when it is new."""
    if not NAME.fullmatch(name):
        raise UsersError(f"user name {name!r}: 1-64 letters, digits or _.@-")
    known = roles(settings)
    if role not in known:
        raise UsersError(f"role {role!r} is not one of serve.roles: {', '.join(sorted(known))}")
    if len(password) < 12:
        raise UsersError("a password needs at least 12 characters")
    path = users_file(settings)
    lines = _read(path)
    new = name not in lines
    lines[name] = hash_line(name, role, password)
    _write(path, lines)
    return new


def remove_user(settings: Settings, name: str) -> bool:
    path = users_file(settings)
    lines = _read(path)
    if lines.pop(name, None) is None:
        return False
    _write(path, lines)
    return True


def list_users(settings: Settings) -> list[EndpointUser]:
    return [EndpointUser(name, line.split(":")[1]) for name, line in sorted(_read(users_file(settings)).items())]
