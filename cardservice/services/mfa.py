"""Second factors of staff accounts: TOTP (RFC 6238) with one-time recovery codes, the policy of
who must have one, and the end of a sign-in. WebAuthn credentials: services.passkeys.

The TOTP secret is sealed like a resident record (services.crypto): a fresh data key encrypts
it with AES-256-GCM, the master key wraps the data key (through the same MasterKeyProvider, an
HSM included), the user id is bound as associated data. A copy of the database alone yields no
secret. A code is accepted once: the time step of the last accepted code is kept, and a code of
that step or an earlier one is refused (RFC 6238 section 5.2).

Recovery codes are 16 characters in four groups; the first group finds the row (not secret),
the other three (12 characters of 31, about 59 random bits) are kept as an argon2id hash.
Each works once.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update

from ..models import RecoveryCode, StaffTotp, StaffUser, WebAuthnCredential
from . import audit
from ._types import DbSession
from .audit import Actor
from .context import Deps
from .devices import TrustedDevice, counter_for
from .errors import ConflictError, NotFoundError, ValidationError
from .locking import lock, locked
from .sessions import end_sessions

log = logging.getLogger("cardservice.mfa")

ISSUER = "Citycard counter"
TOTP_DIGITS = 6
TOTP_PERIOD = 30
# One step either side: the clocks of a phone and a server drift (RFC 6238 section 6).
TOTP_WINDOW = 1
RECOVERY_CODES = 10
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed from paper
_NONCE = 12
# OWASP's minimum for argon2id (19 MiB, t=2, p=1): a code has about 59 random bits, so the hash only
# has to make a stolen table slow to search, and ten codes are hashed at once.
_code_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def use_fast_code_hashing() -> None:
    """Cheap argon2 for test suites only (with services.staff.use_fast_password_hashing)."""
    global _code_hasher
    _code_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def parse_required_roles(raw: str | Iterable[str]) -> frozenset[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(item.strip() for item in items if item.strip())


def mfa_required(role: str, required_roles: Iterable[str]) -> bool:
    return role in set(required_roles)


@dataclass(frozen=True)
class FactorStatus:
    totp: bool
    passkeys: int
    recovery_left: int

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0


def status(session: DbSession, user_id: int) -> FactorStatus:
    totp = session.scalar(
        select(StaffTotp.user_id).where(StaffTotp.user_id == user_id, StaffTotp.confirmed)
    )
    passkeys = session.scalar(
        select(func.count())
        .select_from(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id)
    )
    left = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return FactorStatus(
        totp=totp is not None, passkeys=int(passkeys or 0), recovery_left=int(left or 0)
    )


# --- TOTP --------------------------------------------------------------------------------------


def _aad(user_id: int) -> bytes:
    return b"citycard staff totp v1\x00" + str(user_id).encode("ascii")


def _seal(deps: Deps, user_id: int, secret: str) -> tuple[str, bytes, bytes]:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, secret.encode("ascii"), _aad(user_id))
    provider = deps.cipher.provider
    return provider.key_id, provider.wrap(data_key, context=_aad(user_id)), ciphertext


def _open(deps: Deps, record: StaffTotp) -> str:
    aad = _aad(record.user_id)
    data_key = deps.cipher.provider.unwrap(
        bytes(record.wrapped_key), key_id=record.master_key_id, context=aad
    )
    blob = bytes(record.ciphertext)
    try:
        return AESGCM(data_key).decrypt(blob[:_NONCE], blob[_NONCE:], aad).decode("ascii")
    except InvalidTag:
        from .crypto import CryptoError

        raise CryptoError("cannot decrypt the TOTP secret: tampered or damaged") from None


def rewrap_totp_secrets(session: DbSession, deps: Deps) -> int:
    """After a master-key rotation (`cardservice keys rewrap`): wrap each TOTP data key under
    the current master key, so the old one can be removed. Returns how many were re-wrapped."""
    from .crypto import MissingMasterKeyError
    from .errors import MasterKeyUnavailableError

    provider = deps.cipher.provider
    rows = session.scalars(
        lock(select(StaffTotp).where(StaffTotp.master_key_id != provider.key_id))
    ).all()
    for row in rows:
        aad = _aad(row.user_id)
        try:
            data_key = provider.unwrap(
                bytes(row.wrapped_key), key_id=row.master_key_id, context=aad
            )
        except MissingMasterKeyError as exc:
            session.rollback()
            raise MasterKeyUnavailableError.during_rewrap(exc.master_key_id) from None
        row.wrapped_key = provider.wrap(data_key, context=aad)
        row.master_key_id = provider.key_id
    session.commit()
    return len(rows)


@dataclass(frozen=True)
class TotpSetup:
    secret: str  # base32, shown once for manual entry
    uri: str  # otpauth:// for the QR code


def begin_totp(session: DbSession, deps: Deps, *, user_id: int, now: datetime) -> TotpSetup:
    """A new secret, stored sealed and unconfirmed until a first code proves the app has it.
    Starting again replaces an unconfirmed secret; a confirmed one must be removed first."""
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    record = session.get(StaffTotp, user_id)
    if record is not None and record.confirmed:
        raise ConflictError(_l("An authenticator app is already set up."), code="totp_exists")
    secret = pyotp.random_base32(32)  # 160 bits, RFC 4226 section 4's recommended length
    key_id, wrapped, ciphertext = _seal(deps, user_id, secret)
    if record is None:
        record = StaffTotp(user_id=user_id, created_at=now)
        session.add(record)
    record.master_key_id, record.wrapped_key, record.ciphertext = key_id, wrapped, ciphertext
    record.confirmed, record.last_step, record.created_at = False, None, now
    uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.username, issuer_name=ISSUER
    )
    session.commit()
    return TotpSetup(secret=secret, uri=uri)


def pending_totp(session: DbSession, deps: Deps, *, user_id: int) -> TotpSetup | None:
    """The set-up begun and not yet confirmed (so a refused code shows the same QR code)."""
    record = session.get(StaffTotp, user_id)
    user = session.get(StaffUser, user_id)
    if record is None or record.confirmed or user is None:
        return None
    secret = _open(deps, record)
    uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.username, issuer_name=ISSUER
    )
    return TotpSetup(secret=secret, uri=uri)


def _normal_code(code: str) -> str:
    return "".join((code or "").split())


def _accept_totp(
    session: DbSession, deps: Deps, record: StaffTotp, code: str, now: datetime
) -> bool:
    code = _normal_code(code)
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return False
    from .crypto import CryptoError

    try:
        secret = _open(deps, record)
    except CryptoError as exc:
        # An operator's fix (a master key removed before `keys rewrap`): the sign-in falls back
        # to a passkey or a recovery code meanwhile; the log says which key (never a secret).
        log.error("TOTP key of staff account %s cannot be opened: %s", record.user_id, exc)
        return False
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int(now.timestamp()) // TOTP_PERIOD
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # One guarded statement: of two requests with the same code, one wins.
            won = session.scalar(
                update(StaffTotp)
                .where(
                    StaffTotp.user_id == record.user_id,
                    or_(StaffTotp.last_step.is_(None), StaffTotp.last_step < step),
                )
                .values(last_step=step)
                .returning(StaffTotp.user_id)
                .execution_options(synchronize_session=False)
            )
            return won is not None
    return False


def confirm_totp(
    session: DbSession, deps: Deps, *, user_id: int, code: str, now: datetime, actor: Actor
) -> list[str]:
    """Confirm the set-up with a first code. Returns fresh recovery codes when the account had
    none left (shown once), else an empty list."""
    record = session.get(StaffTotp, user_id)
    if record is None or record.confirmed:
        raise NotFoundError(_l("Start the set-up of the authenticator app again."))
    if not _accept_totp(session, deps, record, code, now):
        session.rollback()
        raise ValidationError({"code": _l("This code is not right. Check the app and the clock.")})
    record.confirmed = True
    audit.record_for_user(
        session, user_id, now=now, actor=actor, action="user.mfa_add", detail="otp"
    )
    session.commit()
    if status(session, user_id).recovery_left == 0:
        return new_recovery_codes(session, user_id=user_id, now=now, actor=actor)
    return []


def verify_totp(session: DbSession, deps: Deps, *, user_id: int, code: str, now: datetime) -> bool:
    record = session.get(StaffTotp, user_id)
    if record is None or not record.confirmed:
        return False
    accepted = _accept_totp(session, deps, record, code, now)
    session.commit()
    return accepted


# --- recovery codes ----------------------------------------------------------------------------


def _random_group() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(4))


def new_recovery_codes(
    session: DbSession, *, user_id: int, now: datetime, actor: Actor
) -> list[str]:
    """Ten fresh codes, replacing every earlier one; returned once, stored only hashed."""
    lookups: set[str] = set()
    while len(lookups) < RECOVERY_CODES:
        lookups.add(_random_group())
    codes = {lookup: "-".join([lookup, *(_random_group() for _ in range(3))]) for lookup in lookups}
    hashes = {lookup: _code_hasher.hash(code[5:]) for lookup, code in codes.items()}
    if locked(session, StaffUser, user_id) is None:
        raise NotFoundError(_l("No such user."))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(
        RecoveryCode(user_id=user_id, lookup=lookup, code_hash=hashes[lookup]) for lookup in codes
    )
    audit.record_for_user(session, user_id, now=now, actor=actor, action="user.recovery_codes")
    session.commit()
    return sorted(codes.values())


def use_recovery_code(session: DbSession, *, user_id: int, code: str, now: datetime) -> bool:
    text = _normal_code(code).lower().replace("-", "")
    if len(text) != 16:
        _code_hasher.hash("-")  # the same work as a real check
        return False
    lookup, rest = text[:4], "-".join((text[4:8], text[8:12], text[12:16]))
    record = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.lookup == lookup,
            RecoveryCode.used_at.is_(None),
        )
    ).first()
    stored = record.code_hash if record is not None else None
    session.rollback()  # no transaction open across the hashing
    try:
        if stored is None:
            _code_hasher.hash(rest)
            return False
        _code_hasher.verify(stored, rest)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    used = session.scalar(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.lookup == lookup,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return used is not None


# --- removal and the end of a sign-in ----------------------------------------------------------


def remove_totp(session: DbSession, *, user_id: int, now: datetime, actor: Actor) -> None:
    if locked(session, StaffUser, user_id) is None:
        raise NotFoundError(_l("No such user."))
    session.execute(delete(StaffTotp).where(StaffTotp.user_id == user_id))
    factor_removed(session, user_id=user_id, kind="otp", now=now, actor=actor)


def factor_removed(
    session: DbSession, *, user_id: int, kind: str, now: datetime, actor: Actor
) -> None:
    """After one second factor is deleted (`kind`: "otp", or "hwk" from services.passkeys):
    its account's other sessions end, the removal is audited, all in the caller's transaction,
    committed here."""
    # A factor removed (lost, or taken by someone) ends every other session it may have opened.
    end_sessions(user_id, except_current=True, db_session=session, commit=False)
    audit.record_for_user(
        session, user_id, now=now, actor=actor, action="user.mfa_remove", detail=kind
    )
    session.commit()


def reset_mfa(session: DbSession, *, username: str, now: datetime, actor: Actor) -> StaffUser:
    """Remove every second factor of an account (a lost phone and key): its owner enrols again
    at the next sign-in. `cardservice users reset-mfa NAME`."""
    user_id = session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    user = locked(session, StaffUser, user_id) if user_id is not None else None
    if user is None:
        raise NotFoundError(_l("No such user."))
    for model in (StaffTotp, RecoveryCode, WebAuthnCredential):
        session.execute(delete(model).where(model.user_id == user.id))
    # Another member's factors, reset by an administrator: none of their sessions stays.
    end_sessions(user.id, db_session=session, commit=False)
    audit.record_for_user(session, user.id, now=now, actor=actor, action="user.mfa_reset")
    session.commit()
    return user


def complete_sign_in(
    session: DbSession,
    *,
    user_id: int,
    amr: list[str],
    now: datetime,
    device: TrustedDevice | None = None,
) -> None:
    """Every factor passed: the sign-in's failure counter starts again and it is audited. For
    a trusted browser that is its own counter only: an account locked by others' guesses stays
    locked for the untrusted browsers."""
    counter = counter_for(user_id, device)
    for model, row, values in (
        (counter.model, counter.row, {"failed_logins": 0, "lockouts": 0, "locked_until": None}),
        (StaffUser, StaffUser.id == user_id, {"last_login_at": now}),
    ):
        session.execute(
            update(model).where(row).values(**values).execution_options(synchronize_session=False)
        )
    audit.record(
        session, now=now, actor=Actor.staff(user_id), action="user.login", detail="+".join(amr)
    )
    session.commit()
