"""Staff accounts: argon2id passwords, roles (sign-in and lockout: authentication.py; API
tokens: tokens.py)."""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..i18n import LANGUAGES
from ..models import ROLES, StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from .locking import locked
from .passwords import check_password, hash_password
from .sessions import end_sessions

_USERNAME = re.compile(r"[A-Za-z0-9._-]{2,64}")


# The one ranking of roles (models.ROLES lists them lowest first); the counter and the API
# both ask role_allows().
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


def role_allows(role: str, required: str) -> bool:
    """Roles are ordered: an admin may do what a supervisor may, who may do what a clerk may."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": _l("The role is clerk, supervisor or admin.")})


def insert_unique(session: DbSession, taken: ConflictError) -> None:
    """Write the new row now. The name was checked free before, but another request may have
    taken it since: the unique constraint decides, and the loser gets the same conflict."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise taken from None


def create_user(
    session: DbSession,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    actor: Actor,
    preferred_language: str | None = None,
) -> StaffUser:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValidationError(
            {"username": _l("User names use 2 to 64 letters, digits, dots, dashes or underscores.")}
        )
    check_role(role)
    check_password(password, username=username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise ConflictError(_l("This user name is taken."), code="username_taken", field="username")
    user = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        active=True,
        failed_logins=0,
        lockouts=0,
        # An administrator chose it (or the CLI did): its owner replaces it at first sign-in.
        must_change_password=True,
        preferred_language=preferred_language,
        created_at=now,
    )
    session.add(user)
    insert_unique(
        session,
        ConflictError(_l("This user name is taken."), code="username_taken", field="username"),
    )
    audit.record_for_user(session, user.id, now=now, actor=actor, action="user.create", detail=role)
    session.commit()
    return user


def set_password(
    session: DbSession, *, user_id: int, password: str, now: datetime, actor: Actor
) -> None:
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None
    # A new password ends every session made with the old one, in the same transaction.
    end_sessions(user.id, db_session=session, commit=False)
    # Chosen by an administrator: its owner replaces it at the next sign-in.
    user.must_change_password = True
    audit.record_for_user(session, user.id, now=now, actor=actor, action="user.password")
    session.commit()


def set_user_active(
    session: DbSession, *, user_id: int, active: bool, now: datetime, actor: Actor
) -> StaffUser:
    if not active and actor.staff_id == user_id:
        # An administrator locking themselves out could leave the city with no administrator.
        raise ConflictError(_l("You cannot deactivate your own account."), code="self_deactivation")
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.active = active
    if not active:
        end_sessions(user.id, db_session=session, commit=False)
    action = "user.activate" if active else "user.deactivate"
    audit.record_for_user(session, user.id, now=now, actor=actor, action=action)
    session.commit()
    return user


def set_preferred_language(
    session: DbSession, *, user_id: int, language: str | None, now: datetime, actor: Actor
) -> StaffUser:
    """Set the language of a staff member's counter screens; None follows the browser.

    Only the languages the counter ships complete catalogs for are accepted.
    """
    if language is not None and language not in LANGUAGES:
        raise ValidationError({"language": _l("Choose one of the listed languages.")})
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.preferred_language = language
    audit.record_for_user(
        session, user.id, now=now, actor=actor, action="user.language", detail=language
    )
    session.commit()
    return user


def list_users(session: DbSession) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
