"""Symbolic links in a local landing: refused, never followed.

A sender who can write into the landing could put a symlink to any server file (or folder)
into a delivery; `pyarrow.fs` follows links, so landing would read that file and report its
hash. So on a local landing root (s3a has no links):

* `symlinks(...)` names every link among the feed folder, the delivery folder and the
  entries of the delivery folder, found with `lstat` (never following one);
* `open_nofollow(...)` opens a delivery's file walking down from the landing root one
  component at a time with `O_NOFOLLOW`, so a link put in place after the check (a race)
  fails to open instead of being followed; nothing outside the landing root is opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from regulake import storage

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: a FIFO planted in a delivery must not block the open (regular files ignore it).
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class SymlinkRefused(OSError):
    """A path component of a delivery is a symbolic link."""


def local_path(root: str) -> Path | None:
    """The landing root as a local path with no link in it, None for object storage."""
    if not storage.is_local(root):
        return None
    return Path(os.path.realpath(storage.resolve(root)[1]))


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def feed_is_symlink(root: str, feed_id: str) -> bool:
    base = local_path(root)
    return base is not None and _is_link(base / feed_id)


def symlinks(root: str, feed_id: str, folder: str) -> list[str]:
    """Links that make up delivery `<root>/<feed_id>/<folder>`: the feed folder, the delivery
    folder, or entries in it (relative names). [] for object storage."""
    base = local_path(root)
    if base is None:
        return []
    if _is_link(base / feed_id):
        return [feed_id]
    delivery = base / feed_id / folder
    if _is_link(delivery):
        return [f"{feed_id}/{folder}"]
    try:
        with os.scandir(delivery) as entries:
            return sorted(e.name for e in entries if e.is_symlink())
    except FileNotFoundError:
        return []


def lstat_listing(root: str, feed_id: str, folder: str) -> list[storage.FileEntry]:
    """The delivery folder's entries as `lstat` sees them (a link's own size and time, not its target's)."""
    base = local_path(root)
    delivery = base / feed_id / folder
    if _is_link(delivery):
        return []
    with os.scandir(delivery) as entries:
        found = [(e.name, e.stat(follow_symlinks=False)) for e in entries
                 if e.is_symlink() or e.is_file(follow_symlinks=False)]
    return sorted((storage.FileEntry(name, int(s.st_size), int(s.st_mtime_ns)) for name, s in found),
                  key=lambda e: e.name)


def open_nofollow(root: str, *parts: str) -> BinaryIO:
    """The file `<root>/<parts...>` opened for reading without following any link below the root.

    Raises SymlinkRefused when a component is a link (or not what it should be).
    """
    base = local_path(root)
    if base is None:
        raise ValueError(f"{root} is not a local landing root")
    if any(p in ("", ".", "..") or "/" in p or os.sep in p for p in parts):
        raise SymlinkRefused(f"{'/'.join(parts)}: not a plain name below the landing root")
    fd = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for index, name in enumerate(parts):
            last = index == len(parts) - 1
            try:
                child = os.open(name, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as error:  # ELOOP (a link with O_NOFOLLOW) or ENOTDIR (a link to a file)
                if _is_link(base.joinpath(*parts[: index + 1])):
                    raise SymlinkRefused(f"{'/'.join(parts[: index + 1])} is a symbolic link") from error
                raise
            os.close(fd)
            fd = child
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SymlinkRefused(f"{'/'.join(parts)}: not a regular file")
        handle = os.fdopen(fd, "rb")
        fd = -1
        return handle
    finally:
        if fd >= 0:
            os.close(fd)
