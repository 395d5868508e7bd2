"""What every command shares: the app context, domain errors as one line on stderr, the session and
dependencies, the clock and the system actor.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def service_command(fn: F) -> F:
    """Run in the app context; turn domain errors into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..extensions import db
        from ..services import ServiceError

        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            db.session.rollback()
            details = getattr(exc, "errors", None)
            if details:
                message = "; ".join(f"{field}: {msg}" for field, msg in details.items())
            else:
                message = str(exc.message)
            fail(message)

    return wrapper  # type: ignore[return-value]


def session_and_deps() -> tuple[Any, Any]:
    from ..extensions import db
    from ..services import deps

    return db.session, deps()


def now_utc() -> datetime:
    return datetime.now(UTC)


def system_actor(command: str) -> Any:
    from ..services import Actor

    return Actor.system(command)


def run_as(command: str, change: Callable[..., T], **options: Any) -> T:
    """A service change made now by `command` (the system actor the audit log names), on the
    app's session and dependencies."""
    session, deps = session_and_deps()
    return change(session, deps, now=now_utc(), actor=system_actor(command), **options)


def format_moment(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
