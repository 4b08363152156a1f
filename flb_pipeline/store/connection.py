"""Short-lived DuckDB connections with retry on lock conflicts (docs/ARCHITECTURE.md, Operations).

DuckDB lets one process hold a database file read-write. Dagster runs each job in its own
process, so every unit of work opens a connection, does its work and closes it; a process
that finds the file locked waits with backoff and then fails with one clear line. A file that
cannot be a DuckDB database (a directory, another kind of file, a directory that does not
exist) fails at once, with one line naming the path and the reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flb_pipeline.store.migrations import migrate

log = logging.getLogger(__name__)
LOCK_MARKERS = ("Could not set lock", "Conflicting lock")


_MIGRATED: set[tuple[int, int]] = set()


class StoreUnavailable(RuntimeError):
    """The DuckDB file cannot be used; the message is one line naming the path and why."""


class StoreLocked(StoreUnavailable):
    """Another process kept the DuckDB file locked for longer than we wait."""


class Store:
    """The project's DuckDB database at `path`; migrated to the latest schema on first use
    in each process (remembered per file on disk, so a file recreated at the same path is
    migrated again). A missing directory is created only with `create_directory`."""

    def __init__(
        self, path: str | Path, *, lock_timeout_s: float = 30.0, create_directory: bool = False
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.create_directory = create_directory

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @property
    def halt_flag(self) -> Path:
        """Where the manual halt flag of this database lives (see `store.halt`)."""
        return self.path.parent / "HALT.json"

    @property
    def archive_dir(self) -> Path:
        """Where scans older than the retention window go (see `store.archive`)."""
        return self.path.parent / "archive"

    @property
    def backtest_dir(self) -> Path:
        """Where threshold searches keep their exported history and per-cell results."""
        return self.path.parent / "backtests"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work, in autocommit: each statement lands on its own,
        so rows already written survive a later failure. Use `transaction` for atomic groups.
        """
        con = self._open()
        try:
            identity = _file_identity(self.path)
            if identity not in _MIGRATED:
                migrate(con)
                _MIGRATED.add(identity)
            yield con
        finally:
            con.close()

    @contextmanager
    def held_open(self) -> Iterator[None]:
        """Keep the database open for a whole run, so each unit of work connects in ~2 ms
        instead of ~25 ms; the file lock is held for that long, which other processes
        wait out with the same backoff."""
        with self.connect():
            yield

    def ensure_directory(self) -> None:
        """The directory the file lives in exists (created only if allowed), else one line."""
        folder = self.path.parent
        if folder.is_dir():
            return
        if self.create_directory and not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            return
        problem = "is not a directory" if folder.exists() else "does not exist"
        raise StoreUnavailable(f"DuckDB file {self.path}: its directory {folder} {problem}")

    def _open(self) -> duckdb.DuckDBPyConnection:
        self.ensure_directory()
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path))
            except duckdb.Error as error:
                reason = _one_line(error)
                if not any(marker in reason for marker in LOCK_MARKERS):
                    raise StoreUnavailable(
                        f"cannot open DuckDB file {self.path}: {reason}"
                    ) from error
                if time.monotonic() + delay > deadline:
                    raise StoreLocked(
                        f"DuckDB file {self.path} stayed locked by another process for "
                        f"{self.lock_timeout_s:g}s: {reason}"
                    ) from error
                log.info("DuckDB file %s is locked; retrying in %.2fs", self.path, delay)
                time.sleep(delay * random.uniform(0.5, 1.0) + delay / 2)
                delay = min(delay * 2, 1.0)
                continue
            con.execute("SET TimeZone = 'UTC'")
            return con


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino
