"""The SQLite index of a workspace: schema and connections safe for several processes at once.

WAL mode lets readers work while one process writes; every write runs in ``BEGIN IMMEDIATE`` so
two processes never both read the same "next version number"; a busy timeout makes the second
writer wait instead of failing. An index of an older schema is upgraded in place when opened.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 30.0

_ANNOTATIONS = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL CHECK (kind IN ('labels', 'boxes', 'class')),
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (case_id, kind, version)
)"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scan_path TEXT NOT NULL,
    source_path TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unlabelled' CHECK (status IN ('unlabelled', 'in_progress', 'done')),
    added TEXT NOT NULL
);"""
    + _ANNOTATIONS.format(name="annotations")
    + """;
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
)


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


def upgrade(connection: sqlite3.Connection) -> None:
    """Bring an index of an older schema up to :data:`SCHEMA_VERSION`; a no-op when it is current.

    Version 1 allowed only ``labels`` and ``boxes`` annotations; version 2 adds case-level ``class``
    annotations. SQLite cannot change a CHECK constraint, so the annotations table is rebuilt.
    """
    if _schema_version(connection) >= SCHEMA_VERSION:
        return
    with write_transaction(connection):
        if _schema_version(connection) >= SCHEMA_VERSION:  # another process upgraded it meanwhile
            return
        connection.execute(_ANNOTATIONS.format(name="annotations_upgraded"))
        connection.execute("INSERT INTO annotations_upgraded SELECT * FROM annotations")
        connection.execute("DROP TABLE annotations")
        connection.execute("ALTER TABLE annotations_upgraded RENAME TO annotations")
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


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


def _schema_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row["value"]) if row else SCHEMA_VERSION
