"""Types shared by the services."""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy.orm import Session, scoped_session

#: What services accept as their session: a plain Session, or Flask-SQLAlchemy's `db.session`.
DbSession: TypeAlias = Session | scoped_session[Any]
