"""The lake's one filesystem layer for files outside Delta: local paths and object storage.

Everything goes through `pyarrow.fs`, so the readers see one interface for a
local folder and an `s3a://` bucket (s3a/s3n/s3 URIs map onto pyarrow's S3
filesystem, configured from the same `spark.hadoop.fs.s3a.*` settings Spark
uses, else from the usual AWS environment variables). Spark is not used here: listing and reading files is
cheap Python work, and a Spark job per file would cost more than the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from regulake.config import Settings

_S3_SCHEMES = ("s3a", "s3n", "s3")


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    mtime_ns: int


_S3A = "spark.hadoop.fs.s3a."
_s3a_conf: dict[str, str] | None = None


def configure(settings: Settings) -> None:
    """Use the lake's Spark s3a settings (endpoint, keys) for s3a:// landing roots and staging too."""
    global _s3a_conf
    _s3a_conf = {k: str(v) for k, v in (settings.spark.get("conf") or {}).items() if k.startswith(_S3A)}
    _s3.cache_clear()


def s3_options(conf: dict[str, str], environ: dict[str, str]) -> dict[str, str]:
    """pyarrow S3FileSystem options from Hadoop s3a settings, else the usual AWS environment."""
    options: dict[str, str] = {}
    endpoint = (conf.get(_S3A + "endpoint") or environ.get("AWS_ENDPOINT_URL_S3")
                or environ.get("AWS_ENDPOINT_URL"))
    if endpoint:
        scheme, sep, host = endpoint.partition("://")
        options["endpoint_override"] = host if sep else endpoint
        options["scheme"] = scheme if sep else "https"
    if conf.get(_S3A + "access.key"):
        options["access_key"] = conf[_S3A + "access.key"]
        options["secret_key"] = conf.get(_S3A + "secret.key", "")
    if conf.get(_S3A + "endpoint.region"):
        options["region"] = conf[_S3A + "endpoint.region"]
    return options


@cache
def _s3() -> pafs.FileSystem:
    conf = _s3a_conf
    if conf is None:  # discover() runs before any Settings is at hand: the process's settings
        from regulake.config import load_settings

        conf = {k: str(v) for k, v in (load_settings().spark.get("conf") or {}).items() if k.startswith(_S3A)}
    # Path-style addressing (pyarrow's default) is what MinIO needs.
    return pafs.S3FileSystem(**s3_options(conf, dict(os.environ)))


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path, file:// URI or s3a:// URI."""
    uri = str(uri)
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    if scheme == "file":
        return pafs.LocalFileSystem(), rest
    if scheme in _S3_SCHEMES:
        return _s3(), rest
    raise ValueError(f"unsupported storage URI {uri!r} (local path, file:// or s3a://)")


def join(base: str, *parts: str) -> str:
    return "/".join([str(base).rstrip("/"), *parts])


def is_local(uri: str) -> bool:
    return "://" not in str(uri) or str(uri).startswith("file://")


def list_dirs(uri: str) -> list[str]:
    """Names of the sub-folders of `uri`, sorted; [] when it does not exist."""
    fs, path = resolve(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.Directory:
        return []
    entries = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    return sorted(e.base_name for e in entries if e.type == pafs.FileType.Directory)


def list_files(uri: str) -> list[FileEntry]:
    """The files directly in folder `uri` with size and modification time, sorted by name."""
    fs, path = resolve(uri)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    entries = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    return sorted(
        (
            FileEntry(e.base_name, int(e.size or 0), int(e.mtime_ns or 0))
            for e in entries
            if e.type == pafs.FileType.File
        ),
        key=lambda e: e.name,
    )


def open_input(uri: str):
    """A binary input stream (file-like, `.read(n)`)."""
    fs, path = resolve(uri)
    return fs.open_input_stream(path)


def open_seekable(uri: str):
    """A seekable binary file (openpyxl needs one)."""
    fs, path = resolve(uri)
    return fs.open_input_file(path)


def read_bytes(uri: str, limit: int | None = None) -> bytes:
    """The file's bytes (at most `limit` of them)."""
    with open_input(uri) as stream:
        return stream.read() if limit is None else stream.read(limit)


def exists(uri: str) -> bool:
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def write_text(uri: str, text: str) -> None:
    """Write (or replace) a small UTF-8 file at once (`write_bytes`)."""
    write_bytes(uri, text.encode("utf-8"))


def write_bytes(uri: str, data: bytes) -> None:
    """Write (or replace) a file at once: a reader sees the old content or the new, never part of it
    (local: a hidden sibling renamed over it; object stores make one PUT visible whole).
    Its folder is created when missing."""
    fs, path = resolve(uri)
    folder, name = path.rsplit("/", 1)
    fs.create_dir(folder, recursive=True)
    target = f"{folder}/.{name}.{os.getpid()}.partial" if isinstance(fs, pafs.LocalFileSystem) else path
    with fs.open_output_stream(target) as stream:
        stream.write(data)
    if target != path:
        fs.move(target, path)


def open_output(uri: str):
    """A binary output stream for a new file (its folder is created when missing)."""
    fs, path = resolve(uri)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    return fs.open_output_stream(path)


def make_dirs(uri: str) -> None:
    fs, path = resolve(uri)
    fs.create_dir(path, recursive=True)


def remove_tree(uri: str) -> None:
    fs, path = resolve(uri)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def remove_file(uri: str) -> None:
    fs, path = resolve(uri)
    fs.delete_file(path)


def copy_tree(source: str, destination: str) -> int:
    """Copy the folder `source` into `destination` (local or s3a://, either way); the number of files."""
    src_fs, src_path = resolve(source)
    dst_fs, dst_path = resolve(destination)
    files = [e for e in src_fs.get_file_info(pafs.FileSelector(src_path, recursive=True)) if e.type == pafs.FileType.File]
    pafs.copy_files(src_path, dst_path, source_filesystem=src_fs, destination_filesystem=dst_fs)
    return len(files)
