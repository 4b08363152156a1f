"""Short-lived DuckDB connections with retry on lock conflicts (DESIGN §9).

DuckDB lets one process hold a database file read-write. Dagster runs each job in its own
process, so every unit of work opens a connection, does its work and closes it; a process
that finds the file locked waits with backoff and then fails with one clear line.
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
LOCK_MARKERS = ("lock", "Conflicting")


_MIGRATED: set[tuple[int, int]] = set()


class StoreLocked(RuntimeError):
    """Another process kept the DuckDB file locked for longer than we wait."""


class Store:
    """The project's DuckDB database at `path`; migrated to the latest schema on first use
    in each process (remembered per file on disk, so a file recreated at the same path is
    migrated again)."""

    def __init__(self, path: str | Path, *, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @property
    def halt_flag(self) -> Path:
        """Where the manual halt flag of this database lives (see `store.halt`)."""
        return self.path.parent / "HALT.json"

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

    def _open(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path))
            except duckdb.IOException as error:
                if not any(marker in str(error) for marker in LOCK_MARKERS):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreLocked(
                        f"DuckDB file {self.path} stayed locked by another process for "
                        f"{self.lock_timeout_s:.0f}s: {error}"
                    ) from error
                log.info("DuckDB file %s is locked; retrying in %.2fs", self.path, delay)
                time.sleep(delay * random.uniform(0.5, 1.0) + delay / 2)
                delay = min(delay * 2, 1.0)
                continue
            con.execute("SET TimeZone = 'UTC'")
            return con


def _file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino
