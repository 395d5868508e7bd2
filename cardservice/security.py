"""HTTP hardening: security headers on every response and SQLite connection settings."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

# The staff UI serves its own scripts and styles only; the webcam capture draws into a canvas and
# produces blob:/data: images. Nothing may frame the app (clickjacking on staff actions).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Same-origin only: our own form posts then carry our Origin (csrf.py needs it; with
    # no-referrer browsers send "Origin: null"), and no address of ours reaches another site.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # The counter takes photos with the webcam; nothing else may use devices.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    production = app.config.get("CARDSERVICE_ENV") == "production"

    @app.after_request
    def _set_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
            )
        # Pages and API answers carry resident data: no shared or disk cache may keep them.
        # Public documents (/.well-known/...) set their own Cache-Control first.
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def private_sqlite_files(urls: Iterable[str]) -> None:
    """Create each SQLite database file as 0600 before SQLite does (or tighten it to 0600).

    SQLite creates a database with the process's umask (usually 0644), and its -wal, -shm and
    -journal files later, lazily, with the database file's own mode: a database made private
    before its first connection keeps every companion file private too.
    """
    for url in urls:
        parsed = make_url(url)
        database = parsed.database
        if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
            continue
        if database.startswith("file:") or parsed.query.get("uri"):
            continue  # an SQLite URI filename: SQLite, not a path, decides what it names
        path = Path(database)
        if not path.parent.is_dir():
            continue  # SQLite will refuse to open it, with its own message
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for suffix in ("", "-wal", "-shm", "-journal"):
            companion = path.with_name(path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                info = companion.stat()
                if info.st_mode & 0o077 and info.st_uid == os.getuid():
                    os.chmod(companion, 0o600)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on (erasure relies on ON DELETE SET NULL) and secure_delete.

    secure_delete makes SQLite overwrite deleted content with zeros, so an erased resident's
    wrapped data key does not linger in free pages of the database file: crypto-shredding has to
    destroy the key on disk, not merely unlink it.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy, not the driver, start transactions (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
    finally:
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock when a transaction starts, not half-way through it.

    With the default deferred transactions two workers can both read a status list and then
    both try to write it; SQLite resolves that deadlock by failing one of them at once ("database
    is locked"). BEGIN IMMEDIATE makes the second wait (busy_timeout) and then read the first
    one's result: the same guarantee PostgreSQL gives through SELECT ... FOR UPDATE.
    """
    if connection.dialect.name != "sqlite":
        return
    # models.keystore.single_statements: each statement is its own transaction.
    if not connection.get_execution_options().get("single_statements"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
