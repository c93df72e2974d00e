"""`regulake sql`: one statement through the running `regulake serve` of the lake, else in this process.

Finding the endpoint. `regulake serve` records where it listens in a small JSON file once its endpoint
is up, and removes it when it stops: `<dir>/<sha256(lake root)[:16]>-<port>.json` (host, port, pid,
lake root, TLS or not), mode 0600 in a 0700 folder, where `<dir>` is `$REGULAKE_SERVE_RUNTIME_DIR`, else
`~/.cache/regulake/serve`. The file holds no secret, but a client sends its password to the address it
names, so it lives in the OS user's own folder and a client takes it only when that user owns it, nobody
else may write it and the pid it names is alive (a killed server's file is ignored and removed). A
refused connection (a server that is stopping) counts as no server too.

Logging in. The endpoint's own users (`regulake users add NAME --role analyst|steward`): the user is
`--user`, else `$REGULAKE_SQL_USER`; the password `$REGULAKE_SQL_PASSWORD`, else asked on a terminal.
The statement then runs under that user's role (an analyst reads `public` and the non-personal gold
tables only) and is in `audit.query_log` under that name, like any other client's. A refused login is
an error; it never falls back.

Without a running endpoint, without a user, or when the endpoint needs TLS, the statement runs in this
process as before (`regulake.spark.get_spark`: a JVM start and the catalog attach, about 30 s), reading
the lake files with this OS user's access; a one-line notice says so and why.

Both paths yield the same columns and Python values (dates, timestamps and decimals as such; arrays,
maps and structs as lists and dicts), printed by one writer (`write_result`). A missing table, database
or column is reported by name with what the database or table holds (`explain`), never as a Spark plan.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import logging
import os
import re
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from rich.console import Console

    from regulake.config import Settings

RUNTIME_DIR_ENV = "REGULAKE_SERVE_RUNTIME_DIR"
USER_ENV = "REGULAKE_SQL_USER"
PASSWORD_ENV = "REGULAKE_SQL_PASSWORD"
CONNECT_TIMEOUT_SECONDS = 10.0
# A server bound to every interface is reached on loopback.
ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}
# Names listed in an error message: enough to recognise the table meant.
MAX_NAMES = 60


class SqlError(Exception):
    """A statement that failed, or a login that was refused: one line for the user, and the exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class ServeUnavailable(Exception):
    """Nothing answers at a recorded address (a server that is stopping)."""


# --- Where a `regulake serve` listens ---------------------------------------------------------------


@dataclass(frozen=True)
class ServerRecord:
    host: str
    port: int
    pid: int
    lake: str
    tls: bool = False
    started_at: str = ""

    @property
    def connect_host(self) -> str:
        return "127.0.0.1" if self.host in ANY_ADDRESS else self.host

    @property
    def address(self) -> str:
        return f"{self.connect_host}:{self.port}"


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    folder = environ.get(RUNTIME_DIR_ENV)
    return Path(folder).expanduser() if folder else Path.home() / ".cache" / "regulake" / "serve"


def lake_key(lake_root: str) -> str:
    return hashlib.sha256(lake_root.encode("utf-8")).hexdigest()[:16]


def record_path(lake_root: str, port: int, environ: Mapping[str, str] | None = None) -> Path:
    return runtime_dir(environ) / f"{lake_key(lake_root)}-{port}.json"


def write_record(lake_root: str, host: str, port: int, *, tls: bool = False,
                 environ: Mapping[str, str] | None = None) -> Path:
    """Record this process as the endpoint of `lake_root` on host:port (called by `regulake serve`)."""
    path = record_path(lake_root, port, environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = ServerRecord(host, port, os.getpid(), lake_root, tls, datetime.now().isoformat(timespec="seconds"))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(record), handle)
    os.replace(temporary, path)  # a client never reads a half-written file
    return path


def remove_record(path: Path) -> None:
    """Remove the record if this process wrote it."""
    record = _read_record(path)
    if record is not None and record.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read_record(path: Path) -> ServerRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerRecord(**{f.name: data[f.name] for f in fields(ServerRecord) if f.name in data})
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another OS user's process now has that pid: not the server that wrote it
        return False
    return True


def find_servers(lake_root: str, environ: Mapping[str, str] | None = None) -> list[ServerRecord]:
    """The live endpoints recorded for `lake_root` (the newest first); stale records are removed."""
    found = []
    for path in runtime_dir(environ).glob(f"{lake_key(lake_root)}-*.json"):
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            continue  # not this user's own file: its address is not trusted with a password
        record = _read_record(path)
        if record is None or record.lake != lake_root:
            continue
        if not _alive(record.pid):
            path.unlink(missing_ok=True)  # left by a killed server
            continue
        found.append((info.st_mtime, record))
    return [record for _, record in sorted(found, key=lambda entry: entry[0], reverse=True)]


# --- Results: the same values and the same printing on both paths ----------------------------------


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]
    via: str  # "serve" (through the endpoint) or "spark" (in this process)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _csv_cell(value: Any) -> Any:
    return _json_text(value) if isinstance(value, list | dict) else value


def _text_cell(value: Any) -> str:
    if value is None:
        return ""
    return _json_text(value) if isinstance(value, list | dict) else str(value)


def write_result(result: Result, fmt: str, out: Console, stdout: IO[str] | None = None) -> None:
    """Print as `--format` says: a table (rich), CSV with a header row, or one JSON object per line.
    Arrays, maps and structs print as JSON in every format."""
    stdout = stdout or sys.stdout
    if fmt == "csv":
        writer = csv.writer(stdout)
        writer.writerow(result.columns)
        writer.writerows([[_csv_cell(value) for value in row] for row in result.rows])
    elif fmt == "json":
        for row in result.rows:
            stdout.write(_json_text(dict(zip(result.columns, row, strict=True))) + "\n")
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for column in result.columns:
            table.add_column(Text(column))
        for row in result.rows:
            table.add_row(*[Text(_text_cell(value)) for value in row])
        out.print(table)


def _float32(value: float) -> float:
    """A FloatType value as the endpoint sends it (Java's Float.toString): the shortest decimal that is
    the same float32, not the float64 widening PySpark gives (0.1, not 0.10000000149011612)."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    exact = struct.pack("f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("f", candidate) == exact:
            return candidate
    return value


def _hive_timestamp(value: datetime) -> str:
    """A timestamp as Spark's Thrift server writes it inside a value (no trailing zeros in the fraction)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{value.microsecond:06d}".rstrip("0") if value.microsecond else text


def _session_zone(spark: SparkSession) -> tzinfo | None:
    try:
        return ZoneInfo(str(spark.conf.get("spark.sql.session.timeZone")))
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return None


def _hive_text(value: Any, data_type: Any, zone: tzinfo | None) -> str:
    """An array, map or struct as Spark's Thrift server sends it (HiveResult.toHiveString, nested): JSON-like,
    but strings unescaped, dates and timestamps unquoted, map entries sorted."""
    from pyspark.sql import types as T

    if value is None:
        return "null"
    if isinstance(data_type, T.StructType):
        return "{" + ",".join(f'"{field.name}":{_hive_text(item, field.dataType, zone)}'
                              for field, item in zip(data_type.fields, value, strict=True)) + "}"
    if isinstance(data_type, T.ArrayType):
        return "[" + ",".join(_hive_text(item, data_type.elementType, zone) for item in value) + "]"
    if isinstance(data_type, T.MapType):
        return "{" + ",".join(sorted(f"{_hive_text(key, data_type.keyType, zone)}:"
                                     f"{_hive_text(item, data_type.valueType, zone)}"
                                     for key, item in value.items())) + "}"
    if isinstance(data_type, T.StringType):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(data_type, T.TimestampType | T.TimestampNTZType):
        return _hive_timestamp(_scalar(value, data_type, zone))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(data_type, T.FloatType):
        return repr(_float32(value))
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _scalar(value: Any, data_type: Any, zone: tzinfo | None) -> Any:
    from pyspark.sql import types as T

    if isinstance(data_type, T.TimestampType) and zone is not None:
        # PySpark gives TIMESTAMP values in this process's local time, the endpoint in the session time zone.
        return value.astimezone(zone).replace(tzinfo=None)
    if isinstance(data_type, T.FloatType):
        return _float32(value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _plain(value: Any, data_type: Any, zone: tzinfo | None) -> Any:
    """A collected value as the endpoint path has it: arrays, maps and structs go through the text the
    endpoint would send, read back the same way (`_complex`), so both paths print the same."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(data_type, T.StructType | T.ArrayType | T.MapType):
        return _complex(_hive_text(value, data_type, zone))
    return _scalar(value, data_type, zone)


# Hive's text leaves dates, timestamps and number map keys bare: quoted, it is JSON (unless a string
# holds a quote; then the text stays as it is).
_BARE_TIME = re.compile(r'(?<=[\[,:{])(\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)?)(?=[,\]}:])')
_NUMBER_KEY = re.compile(r'([{,])(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?):')


def _complex(text: str) -> Any:
    """An array, map or struct from the endpoint's text: lists and dicts when it reads as JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_NUMBER_KEY.sub(r'\1"\2":', _BARE_TIME.sub(r'"\1"', text)))
    except ValueError:
        return text


def _from_server(value: Any, type_code: str) -> Any:
    """A value the endpoint sent (PyHive already turns DECIMAL and TIMESTAMP into Python values)."""
    if value is None or not isinstance(value, str):
        return value
    if type_code == "DATE_TYPE":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if type_code in {"ARRAY_TYPE", "MAP_TYPE", "STRUCT_TYPE"}:
        return _complex(value)
    return value


# --- Failures: name what is missing and what is there -----------------------------------------------

_CONDITION = re.compile(r"\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]")
_PARAMETERS = {
    "relationName": re.compile(r"The table or view (.+?) cannot be found"),
    "schemaName": re.compile(r"The schema (.+?) cannot be found"),
    "objectName": re.compile(r"with name (.+?) cannot be resolved"),
    "proposal": re.compile(r"Did you mean one of the following\? \[(.*?)\]"),
}
_NAME_PART = re.compile(r"`((?:[^`]|``)*)`|([^.`\s]+)")
# Tables a statement reads: FROM / JOIN followed by a (qualified) name, not a function such as range(5).
_TABLE_REFERENCE = re.compile(
    r"\b(?:from|join)\s+((?>(?:`(?:[^`]|``)+`|[A-Za-z_]\w*)(?:\s*\.\s*(?:`(?:[^`]|``)+`|[A-Za-z_]\w*))*))(?!\s*\()",
    re.IGNORECASE)


_PREFIX = re.compile(r"^\s*(?:Error running query: |(?:\[[A-Z0-9_.]+\] )?(?:[a-z]\w*\.)+[A-Z][\w$]*: )")


def first_line(message: str) -> str:
    """The statement's error without the plan Spark appends, or the server's Java class names
    (`Error running query: [C] org.apache.spark.sql.AnalysisException: [C] message;\n'Project ...`)."""
    text, previous = message, None
    while text != previous:
        previous, text = text, _PREFIX.sub("", text, count=1)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].rstrip(";").strip() if lines else "the statement failed"


def parse_failure(message: str) -> tuple[str, dict[str, str]]:
    """The error condition and its parameters, read from the message text."""
    condition = _CONDITION.search(message)
    found = {name: match.group(1) for name, pattern in _PARAMETERS.items() if (match := pattern.search(message))}
    return (condition.group(1) if condition else ""), found


def name_parts(text: str) -> list[str]:
    return [quoted.replace("``", "`") if quoted or not plain else plain for quoted, plain in _NAME_PART.findall(text)]


def _quoted(parts: Sequence[str]) -> str:
    return ".".join("`{}`".format(part.replace("`", "``")) for part in parts)


def _listing(names: Sequence[str]) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(names[:MAX_NAMES])
    return shown if len(names) <= MAX_NAMES else f"{shown} … ({len(names) - MAX_NAMES} more)"


class CatalogView:
    """What the session sees (databases, tables, columns) through SQL, so it works on both paths and an
    endpoint user sees only what the endpoint shows them (a column list needs a DESCRIBE they may run)."""

    def __init__(self, run: Callable[[str], list[tuple]]):
        self._run = run

    def _rows(self, statement: str) -> list[tuple] | None:
        try:
            return self._run(statement)
        except Exception:  # noqa: BLE001 - a lookup for a better message: no answer is an answer
            return None

    def databases(self) -> list[str]:
        return sorted(str(row[0]) for row in self._rows("SHOW DATABASES") or [])

    def current_database(self) -> str:
        rows = self._rows("SELECT current_database()")
        return str(rows[0][0]) if rows else "default"

    def tables(self, database: str) -> list[str] | None:
        rows = self._rows(f"SHOW TABLES IN {_quoted([database])}")
        if rows is None:
            return None
        # (namespace, tableName, isTemporary): a temporary view belongs to no database.
        return sorted(str(row[1]) for row in rows if len(row) < 3 or not row[2])

    def columns(self, parts: Sequence[str]) -> list[str] | None:
        rows = self._rows(f"DESCRIBE {_quoted(parts)}")
        if rows is None:
            return None
        names = []
        for row in rows:
            name = str(row[0] or "").strip()
            if not name or name.startswith("#"):
                break  # partition and detail sections follow the columns
            names.append(name)
        return names


def explain(condition: str, parameters: Mapping[str, str], message: str, query: str, catalog: CatalogView) -> str:
    """One line for a failed statement: a missing table, database or column named, with what is there."""
    try:
        if condition == "TABLE_OR_VIEW_NOT_FOUND" and parameters.get("relationName"):
            return _missing_table(name_parts(parameters["relationName"]), catalog)
        if condition == "SCHEMA_NOT_FOUND" and parameters.get("schemaName"):
            database = name_parts(parameters["schemaName"])[-1]
            return f"no database {database}; the lake's databases: {_listing(catalog.databases())}"
        if condition.startswith("UNRESOLVED_COLUMN") and parameters.get("objectName"):
            return _missing_column(name_parts(parameters["objectName"]), parameters.get("proposal", ""), query,
                                   catalog)
    except Exception:  # noqa: BLE001 - never worse than Spark's own first line
        pass
    return first_line(message)


def _missing_table(parts: list[str], catalog: CatalogView) -> str:
    databases = catalog.databases()
    if len(parts) >= 2:
        database, table = parts[-2], parts[-1]
        if database not in databases:
            return f"no database {database}; the lake's databases: {_listing(databases)}"
        return f"no table {database}.{table}; {database} holds: {_listing(catalog.tables(database) or [])}"
    table = parts[-1]
    current = catalog.current_database()
    elsewhere = [f"{database}.{table}" for database in databases
                 if database != current and table in (catalog.tables(database) or [])]
    hint = f"did you mean {' or '.join(elsewhere)}?" if elsewhere else \
        f"name tables as database.table; databases: {_listing(databases)}"
    return f"no table {table} in database {current} (it holds: {_listing(catalog.tables(current) or [])}); {hint}"


def _missing_column(parts: list[str], proposal: str, query: str, catalog: CatalogView) -> str:
    column = ".".join(parts)
    read = []
    for reference in dict.fromkeys(match.group(1) for match in _TABLE_REFERENCE.finditer(query)):
        table = name_parts(reference)
        columns = catalog.columns(table)
        if columns is not None:
            read.append((".".join(table), columns))
    if read:
        where = " or ".join(name for name, _ in read)
        held = "; ".join(f"{name} has: {_listing(columns)}" for name, columns in read)
        return f"no column {column} in {where}; {held}"
    suggestions = [".".join(name_parts(item)) for item in proposal.split(", ") if item.strip()]
    return f"no column {column}; did you mean: {', '.join(suggestions)}" if suggestions else f"no column {column}"


# --- The two paths -----------------------------------------------------------------------------------


def _server_message(error: Exception) -> str:
    response = error.args[0] if error.args else None
    status = getattr(response, "status", None)
    return str(getattr(status, "errorMessage", None) or error)


def open_connection(server: ServerRecord, user: str, password: str):
    """A PyHive connection with password login (SASL PLAIN, HiveServer2's CUSTOM mode); a connect timeout."""
    import thrift_sasl
    from pyhive import hive
    from thrift.transport import TSocket
    from thrift.transport.TTransport import TTransportException

    for noisy in ("pyhive", "thrift", "thrift_sasl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # PyHive logs every statement at INFO
    sock = TSocket.TSocket(server.connect_host, server.port)
    sock.setTimeout(CONNECT_TIMEOUT_SECONDS * 1000)
    transport = thrift_sasl.TSaslClientTransport(
        lambda: hive.get_installed_sasl(host=server.connect_host, sasl_auth="PLAIN", username=user,
                                        password=password), "PLAIN", sock)
    try:
        connection = hive.connect(thrift_transport=transport, username=user)
    except TTransportException as error:
        if error.type == TTransportException.NOT_OPEN and "connect" in str(error).lower():
            raise ServeUnavailable(str(error)) from None
        raise SqlError(f"the SQL endpoint at {server.address} refused the login of {user} (wrong user name or "
                       f"password?)") from None
    except (ConnectionError, TimeoutError, OSError) as error:
        raise ServeUnavailable(str(error)) from None
    sock.setTimeout(None)  # a statement may run up to serve.query_timeout_seconds
    return connection


def run_through_serve(server: ServerRecord, user: str, password: str, query: str, limit: int | None) -> Result:
    from pyhive.exc import Error as HiveError
    from thrift.Thrift import TException

    connection = open_connection(server, user, password)

    def rows_of(statement: str) -> list[tuple]:
        cursor = connection.cursor()
        try:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    try:
        cursor = connection.cursor(arraysize=1000 if limit is None else max(1, min(limit, 1000)))
        try:
            cursor.execute(query)
            description = cursor.description or []
            rows = (cursor.fetchall() if limit is None else cursor.fetchmany(limit)) if description else []
        except HiveError as error:
            message = _server_message(error)
            condition, parameters = parse_failure(message)
            raise SqlError(explain(condition, parameters, message, query, CatalogView(rows_of))) from None
        finally:
            cursor.close()
    except TException as error:
        raise SqlError(f"lost the connection to the SQL endpoint at {server.address}: {error}") from None
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the answer is in; a session the server dropped is no failure
            pass
    types = [entry[1] for entry in description]
    return Result([entry[0] for entry in description],
                  [tuple(_from_server(value, type_code) for value, type_code in zip(row, types, strict=True))
                   for row in rows], "serve")


def run_in_process(spark: SparkSession, query: str, limit: int | None) -> Result:
    from pyspark.errors import PySparkException
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        # PySpark logs every failed statement with its plan and the JVM's stack trace: the one line is enough.
        PySparkLogger.getLogger(name).disabled = True
    try:
        frame = spark.sql(query)
        rows = (frame if limit is None else frame.limit(limit)).collect()
    except PySparkException as error:
        condition = error.getCondition() or ""
        parameters = dict(error.getMessageParameters() or {})
        view = CatalogView(lambda statement: [tuple(row) for row in spark.sql(statement).collect()])
        raise SqlError(explain(condition, parameters, str(error), query, view)) from None
    zone, types = _session_zone(spark), [field.dataType for field in frame.schema.fields]
    return Result(list(frame.columns), [tuple(_plain(value, data_type, zone) for value, data_type
                                              in zip(row, types, strict=True)) for row in rows], "spark")


def _ask_password(user: str, server: ServerRecord) -> str | None:
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"password of {user} at the SQL endpoint {server.address}: ")


def execute(
    settings: Settings,
    query: str,
    *,
    limit: int | None,
    user: str | None = None,
    notice: Callable[[str], None] = print,
    environ: Mapping[str, str] | None = None,
    ask_password: Callable[[str, ServerRecord], str | None] = _ask_password,
) -> Result:
    """Run `query` through the lake's endpoint when one runs and a user is given, else in this process."""
    environ = os.environ if environ is None else environ
    lake_root = settings.lake_root
    servers = find_servers(lake_root, environ)
    user = user or environ.get(USER_ENV) or None
    start = f"`regulake serve --lake {lake_root}` (or `make serve LAKE={lake_root}`)"
    credentials = f"set {USER_ENV} and {PASSWORD_ENV} (a `regulake users add` user)"
    servers_plain = [server for server in servers if not server.tls]
    if not servers:
        why = f"no `regulake serve` is running for this lake; start one with {start} and {credentials} " \
              "to answer in about a second"
    elif not servers_plain:
        why = f"the `regulake serve` of this lake ({servers[0].address}) uses TLS, which `regulake sql` does " \
              "not speak"
    elif not user:
        why = f"`regulake serve` runs for this lake ({servers_plain[0].address}) but no user is given: " \
              f"{credentials}, or pass --user"
    else:
        password = environ.get(PASSWORD_ENV) or ask_password(user, servers_plain[0])
        if not password:
            raise SqlError(f"no password for {user} at the SQL endpoint {servers_plain[0].address}: set "
                           f"{PASSWORD_ENV}, or run on a terminal to be asked", exit_code=2)
        for server in servers_plain:
            try:
                return run_through_serve(server, user, password, query, limit)
            except ServeUnavailable:
                continue
        why = f"the `regulake serve` recorded for this lake does not answer; start one with {start}"
    notice(f"starting Spark in this process for this one statement (about 30 s): {why}")
    from regulake.spark import get_spark

    return run_in_process(get_spark(settings, app_name="regulake-sql"), query, limit)
