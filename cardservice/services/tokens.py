"""API tokens: created for a role, shown once, stored only as a SHA-256 hash, revoked by name or
id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from ..models import ApiToken
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from .locking import lock, locked
from .staff import check_role, insert_unique

_TOKEN_NAME = re.compile(r"[A-Za-z0-9._ -]{1,64}")


TOKEN_PREFIX = "cst_"


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
    check_role(role)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)):
        raise ConflictError(_l("A token with this name exists."), code="token_name_taken")
    # 256 bits from the OS; SHA-256 suffices for storage (no need for a slow hash: not guessable).
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(name=name, token_hash=_hash_token(token), role=role, created_at=now)
    session.add(record)
    insert_unique(
        session, ConflictError(_l("A token with this name exists."), code="token_name_taken")
    )
    subject = f"token:{record.id}"
    audit.record(session, now=now, actor=actor, action="token.create", subject=subject, detail=role)
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
