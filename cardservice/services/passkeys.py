"""WebAuthn passkeys and security keys of staff accounts, through Duo Labs' py_webauthn.

py_webauthn does the relying party's checks of W3C WebAuthn level 2/3 (sections 7.1 and 7.2:
challenge, origin, RP ID hash, user presence, signature, COSE key, signature counter) and takes
and gives the browser's JSON, which keeps this module small. Attestation is not requested
("none"): the city accepts any authenticator its staff hold, and the risk addressed is phishing
and password reuse, which any FIDO authenticator stops (the signature covers the origin).

The challenge of a ceremony lives in the caller's session (the view keeps it in flask.session,
server side once sessions are) and is used once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypedDict, Unpack

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..models import StaffUser, WebAuthnCredential
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import NotFoundError, ValidationError
from .locking import locked
from .mfa import factor_removed

RP_NAME = "Citycard counter"
MAX_CREDENTIAL_JSON = 16_384
_NAME_CHARS = 64


class Ceremony(TypedDict):
    """One WebAuthn ceremony's answer and what it is checked against, as register() and
    verify() take them: the browser's credential as JSON, the challenge kept for it, this
    relying party's id and origin."""

    credential_json: str
    challenge: bytes
    rp_id: str
    origin: str


class _Expected(TypedDict):
    expected_challenge: bytes
    expected_rp_id: str
    expected_origin: str


def _expected(ceremony: Ceremony) -> _Expected:
    """What py_webauthn checks an answer against, registration and authentication alike."""
    return _Expected(
        expected_challenge=ceremony["challenge"],
        expected_rp_id=ceremony["rp_id"],
        expected_origin=ceremony["origin"],
    )


def _user_handle(user_id: int) -> bytes:
    # The user handle is stored on the authenticator: the account's number, nothing personal.
    return f"staff:{user_id}".encode("ascii")


def _descriptors(session: DbSession, user_id: int) -> list[PublicKeyCredentialDescriptor]:
    ids = session.scalars(
        select(WebAuthnCredential.credential_id).where(WebAuthnCredential.user_id == user_id)
    )
    return [PublicKeyCredentialDescriptor(id=bytes(cid)) for cid in ids]


def registration_options(session: DbSession, *, user_id: int, rp_id: str) -> tuple[str, bytes]:
    """(options as JSON for navigator.credentials.create, the challenge to keep)."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.username,
        user_id=_user_handle(user_id),
        user_display_name=user.username,
        # A key already registered to this account is not registered twice.
        exclude_credentials=_descriptors(session, user_id),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    session.rollback()
    return options_to_json(options), options.challenge


def _parse(credential_json: str) -> dict[str, Any]:
    if not isinstance(credential_json, str) or len(credential_json) > MAX_CREDENTIAL_JSON:
        raise ValidationError({"credential": _l("The security key's answer cannot be read.")})
    try:
        parsed = json.loads(credential_json)
    except ValueError:
        raise ValidationError(
            {"credential": _l("The security key's answer cannot be read.")}
        ) from None
    if not isinstance(parsed, dict):
        raise ValidationError({"credential": _l("The security key's answer cannot be read.")})
    return parsed


def register(
    session: DbSession,
    *,
    user_id: int,
    name: str,
    now: datetime,
    actor: Actor,
    **ceremony: Unpack[Ceremony],
) -> WebAuthnCredential:
    credential = _parse(ceremony["credential_json"])
    try:
        verified = verify_registration_response(
            credential=credential,
            **_expected(ceremony),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise ValidationError(
            {"credential": _l("The security key could not be registered. Try again.")}
        ) from None
    if locked(session, StaffUser, user_id) is None:
        raise NotFoundError(_l("No such user."))
    taken = session.scalar(
        select(WebAuthnCredential.id).where(
            WebAuthnCredential.credential_id == verified.credential_id
        )
    )
    if taken is not None:
        session.rollback()
        raise ValidationError({"credential": _l("This security key is already registered.")})
    record = WebAuthnCredential(
        user_id=user_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        label=(name.strip() or "Passkey")[:_NAME_CHARS],
        created_at=now,
    )
    session.add(record)
    session.flush()
    audit.record_for_user(
        session, user_id, now=now, actor=actor, action="user.mfa_add", detail="hwk"
    )
    session.commit()
    return record


def authentication_options(session: DbSession, *, user_id: int, rp_id: str) -> tuple[str, bytes]:
    """(options as JSON for navigator.credentials.get, the challenge to keep)."""
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(session, user_id),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    session.rollback()
    return options_to_json(options), options.challenge


def verify(
    session: DbSession,
    *,
    user_id: int,
    now: datetime,
    **ceremony: Unpack[Ceremony],
) -> bool:
    """Whether the assertion is a valid signature of one of this account's credentials over
    this challenge and origin. Updates the signature counter (a cloned key shows up as a
    counter that does not grow, and is refused)."""
    try:
        credential = _parse(ceremony["credential_json"])
        from webauthn.helpers import base64url_to_bytes

        raw_id = base64url_to_bytes(str(credential.get("rawId") or credential.get("id") or ""))
    except (ValidationError, ValueError, TypeError):
        return False
    record = session.scalars(
        select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == raw_id, WebAuthnCredential.user_id == user_id
        )
    ).first()
    if record is None:
        session.rollback()
        return False
    try:
        verified = verify_authentication_response(
            credential=credential,
            **_expected(ceremony),
            credential_public_key=bytes(record.public_key),
            credential_current_sign_count=int(record.sign_count),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        session.rollback()
        return False
    record.sign_count = verified.new_sign_count
    record.last_used_at = now
    session.commit()
    return True


def list_credentials(session: DbSession, user_id: int) -> list[WebAuthnCredential]:
    return list(
        session.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user_id)
            .order_by(WebAuthnCredential.created_at)
        )
    )


def remove(
    session: DbSession, *, user_id: int, credential_row: int, now: datetime, actor: Actor
) -> None:
    record = locked(session, WebAuthnCredential, credential_row)
    if record is None or record.user_id != user_id:
        session.rollback()
        raise NotFoundError(_l("No such security key."))
    session.delete(record)
    factor_removed(session, user_id=user_id, kind="hwk", now=now, actor=actor)
