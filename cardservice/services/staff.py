"""Staff accounts (argon2id passwords) and API tokens (stored as SHA-256); signing in and the
lockout: services.authentication."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..i18n import LANGUAGES
from ..models import ROLES, ApiToken, StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from .locking import lock, locked

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3, p=4)


def use_fast_password_hashing() -> None:
    """Cheap argon2 parameters, for test suites only (create_app calls it when ENV=testing):
    the default profile costs about a second per hash on a busy CI machine."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _dummy_hash.cache_clear()
    from .mfa import use_fast_code_hashing

    use_fast_code_hashing()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist keeps the response time the same, so
    the login form does not reveal which user names exist. Computed on first use: hashing costs
    as much as a login, too much to pay at every import."""
    return _hasher.hash(secrets.token_urlsafe(16))


_USERNAME = re.compile(r"[A-Za-z0-9._-]{2,64}")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9._ -]{1,64}")
TOKEN_PREFIX = "cst_"
ROLE_RANK = {"clerk": 1, "supervisor": 2, "admin": 3}


def role_allows(role: str, required: str) -> bool:
    """Roles are ordered: an admin may do what a supervisor may, who may do what a clerk may."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": _l("The role is clerk, supervisor or admin.")})


def _check_password(password: str, username: str) -> None:
    from .passwords import check_password

    check_password(password, username=username)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; always costs one argon2 verification."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return bool(_hasher.check_needs_rehash(password_hash))


def verify_dummy(password: str) -> None:
    """Spend what a real verification costs, for an answer that must not be faster."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password or "-")


def _insert(session: DbSession, taken: ConflictError) -> None:
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
    _check_role(role)
    _check_password(password, username)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise ConflictError(_l("This user name is taken."), code="username_taken", field="username")
    user = StaffUser(
        username=username,
        password_hash=_hasher.hash(password),
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
    _insert(
        session,
        ConflictError(_l("This user name is taken."), code="username_taken", field="username"),
    )
    audit.record(
        session, now=now, actor=actor, action="user.create", subject=f"user:{user.id}", detail=role
    )
    session.commit()
    return user


def set_password(
    session: DbSession, *, user_id: int, password: str, now: datetime, actor: Actor
) -> None:
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    _check_password(password, user.username)
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.lockouts = 0
    user.locked_until = None
    # Chosen by an administrator: its owner replaces it at the next sign-in.
    user.must_change_password = True
    audit.record(session, now=now, actor=actor, action="user.password", subject=f"user:{user.id}")
    session.commit()


def set_user_active(
    session: DbSession, *, user_id: int, active: bool, now: datetime, actor: Actor
) -> None:
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.active = active
    audit.record(
        session,
        now=now,
        actor=actor,
        action="user.activate" if active else "user.deactivate",
        subject=f"user:{user.id}",
    )
    session.commit()


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
    audit.record(
        session,
        now=now,
        actor=actor,
        action="user.language",
        subject=f"user:{user.id}",
        detail=language,
    )
    session.commit()
    return user


def list_users(session: DbSession) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


@dataclass(frozen=True)
class CreatedToken:
    id: int
    name: str
    role: str
    token: str  # shown once, never stored


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: DbSession, *, name: str, role: str, now: datetime, actor: Actor
) -> CreatedToken:
    if not isinstance(name, str) or not _TOKEN_NAME.fullmatch(name):
        raise ValidationError({"name": _l("Token names use up to 64 letters, digits or spaces.")})
    _check_role(role)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)):
        raise ConflictError(_l("A token with this name exists."), code="token_name_taken")
    # 256 bits from the OS; SHA-256 suffices for storage (no need for a slow hash: not guessable).
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(name=name, token_hash=_hash_token(token), role=role, created_at=now)
    session.add(record)
    _insert(session, ConflictError(_l("A token with this name exists."), code="token_name_taken"))
    audit.record(
        session,
        now=now,
        actor=actor,
        action="token.create",
        subject=f"token:{record.id}",
        detail=role,
    )
    session.commit()
    return CreatedToken(id=record.id, name=name, role=role, token=token)


@dataclass(frozen=True)
class TokenInfo:
    """What an administrator may see of an API token: never the token, never its hash."""

    id: int
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_tokens(session: DbSession) -> list[TokenInfo]:
    """Every API token, active ones first, then by name."""
    records = session.scalars(
        select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.name)
    )
    return [
        TokenInfo(
            id=r.id,
            name=r.name,
            role=r.role,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
            revoked_at=r.revoked_at,
        )
        for r in records
    ]


def _revoke(
    session: DbSession,
    record: ApiToken | None,
    *,
    now: datetime,
    actor: Actor,
    missing: LazyString,
) -> None:
    if record is None or record.revoked_at is not None:
        raise NotFoundError(missing)
    record.revoked_at = now
    audit.record(session, now=now, actor=actor, action="token.revoke", subject=f"token:{record.id}")
    session.commit()


def revoke_token(session: DbSession, *, name: str, now: datetime, actor: Actor) -> None:
    record = session.scalars(lock(select(ApiToken).where(ApiToken.name == name))).first()
    _revoke(session, record, now=now, actor=actor, missing=_l("No active token has this name."))


def revoke_token_id(session: DbSession, *, token_id: int, now: datetime, actor: Actor) -> None:
    """The same as revoke_token, by id (the admin page's buttons carry ids, not names)."""
    _revoke(
        session,
        locked(session, ApiToken, token_id),
        now=now,
        actor=actor,
        missing=_l("No active API token has this id."),
    )


def authenticate_token(session: DbSession, token: str, *, now: datetime) -> ApiToken:
    """The token record for a bearer token, or AuthenticationError."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationError(_l("Invalid or missing API token."), code="invalid_token")
    digest = _hash_token(token)
    record = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    # The lookup is by hash, so timing reveals nothing about the token; compare anyway.
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        raise AuthenticationError(_l("Invalid or missing API token."), code="invalid_token")
    if record.revoked_at is not None:
        raise AuthenticationError(_l("This API token was revoked."), code="invalid_token")
    # Record use at most once a minute: a write per request would serialise the API on SQLite.
    # One guarded statement, not a read then a write: concurrent requests do not queue on the
    # row, and the one whose statement matches writes it.
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == record.id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at < now - timedelta(minutes=1),
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return record
