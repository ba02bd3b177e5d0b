"""The SQLite index of a workspace: schema and connections safe for several processes at once.

WAL mode lets readers work while one process writes; every write runs in ``BEGIN IMMEDIATE`` so
two processes never both read the same "next version number"; a busy timeout makes the second
writer wait instead of failing.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scan_path TEXT NOT NULL,
    source_path TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unlabelled' CHECK (status IN ('unlabelled', 'in_progress', 'done')),
    added TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL CHECK (kind IN ('labels', 'boxes')),
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (case_id, kind, version)
);
CREATE TABLE IF NOT EXISTS model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    path TEXT NOT NULL,
    parent_id INTEGER REFERENCES model_versions (id),
    metrics TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS training_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    base_model_id INTEGER REFERENCES model_versions (id),
    result_model_id INTEGER REFERENCES model_versions (id),
    config TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    directory TEXT,
    started TEXT NOT NULL,
    finished TEXT
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open the index at ``path`` in WAL mode with a busy timeout; rows behave like mappings."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return connection


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables (idempotent) and record the schema version."""
    with write_transaction(connection):
        for statement in _SCHEMA.split(";"):  # executescript would commit the open transaction
            if statement.strip():
                connection.execute(statement)
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )


@contextlib.contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error): the write lock is taken up front."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
