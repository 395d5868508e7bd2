"""City setup and key management: the root key, rotating signing keys, status lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

import cardformat
from cardformat import KeyFileError, KeyState, StatusList

from ..models import City, SigningKey, StatusListRecord
from ..models.city import CITY_ID
from . import audit
from ._types import DbSession
from .audit import Actor
from .context import Deps
from .errors import (
    CityExistsError,
    CityNotInitialisedError,
    ConflictError,
    NotFoundError,
    SigningKeyError,
    ValidationError,
)
from .keyseal import KeySealer
from .locking import lock

# Signing keys are rotated yearly by default (docs/federation.md); not_after tells partners when
# a key stops being used for new cards, retirement ends its use for real.
SIGNING_KEY_LIFETIME = timedelta(days=366)
# Verifiers refuse a card or status list issued outside its key's nbf..exp (docs/card-format.md
# section 4), so a key is never used that close to its not_after: the first signature within
# this margin rotates it first (rotate_if_due). `keys list` warns a month ahead, so that an
# admin can rotate at a quiet time and let partners sync before the counters use the new key.
ROTATE_AHEAD = timedelta(days=1)
EXPIRY_WARNING = timedelta(days=30)
AUTO_ROTATION = Actor.system("key-expiry")


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    state: str
    not_before: datetime
    not_after: datetime | None
    retired_at: datetime | None
    revoked_at: datetime | None
    fingerprint: str


def normalise_kid(text: str) -> str:
    """A key id as staff type or paste it: case and the spaces of a grouped display do not
    count. The one place key ids typed by a person are compared or looked up."""
    return text.strip().lower().replace(" ", "")


def get_city(session: DbSession) -> City:
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise CityNotInitialisedError()
    return city


def locked_city(session: DbSession) -> City:
    """The city row, locked: it orders key changes, metadata signing and the creation of
    status lists (each of them changes what the metadata lists)."""
    city = session.scalars(lock(select(City).limit(1))).first()
    if city is None:
        raise CityNotInitialisedError()
    return city


def _new_signing_key(deps: Deps, now: datetime) -> tuple[SigningKey, Ed25519PrivateKey]:
    key = cardformat.generate_key()
    record = SigningKey(
        kid=cardformat.key_id(key).hex(),
        public_key=cardformat.public_key_bytes(key),
        private_key_pem=deps.key_sealer.seal(key),
        state=KeyState.ACTIVE.value,
        not_before=now,
        not_after=now + SIGNING_KEY_LIFETIME,
        created_at=now,
    )
    return record, key


def new_status_list(list_id: int, size: int, now: datetime) -> StatusListRecord:
    return StatusListRecord(
        id=list_id,
        size=size,
        bits=2,
        lst=StatusList(size, 2).encode_lst(),
        allocated=0,
        updated_at=now,
    )


def init_city(
    session: DbSession,
    deps: Deps,
    *,
    code: str,
    names: dict[str, str],
    now: datetime,
    actor: Actor,
) -> City:
    """Create the city: root key, first signing key, first status list. Never overwrites."""
    errors = {}
    try:
        code = cardformat.validate_issuer_code(code.strip().upper())
    except cardformat.MalformedError:
        errors["code"] = _l('The city code is a UN/LOCODE such as "FR SXB".')
    clean_names = {
        str(lang).strip(): str(name).strip()
        for lang, name in names.items()
        if str(name).strip() and str(lang).strip()
    }
    if not clean_names or any(len(n) > 100 for n in clean_names.values()):
        errors["name"] = _l("The city needs a name of at most 100 characters.")
    if errors:
        raise ValidationError(errors)
    require_passphrase(session, deps, now=now)
    if session.scalar(select(func.count()).select_from(City)):
        raise CityExistsError()
    root = cardformat.generate_key()
    city = City(
        # Always id 1: the primary key is then the singleton's constraint. Two runs that both
        # passed the check above insert the same key, and the database refuses the second.
        id=CITY_ID,
        code=code,
        names=clean_names,
        root_public_key=cardformat.public_key_bytes(root),
        root_private_key_pem=deps.key_sealer.seal(root),
        created_at=now,
        metadata_serial=0,
    )
    session.add(city)
    try:
        # The city first and alone (on PostgreSQL this waits for a concurrent run to end).
        session.flush()
    except IntegrityError:
        session.rollback()
        raise CityExistsError() from None
    signing, _ = _new_signing_key(deps, now)
    session.add_all([signing, new_status_list(0, deps.policy.status_list_size, now)])
    audit.record(session, now=now, actor=actor, action="city.init", subject=f"key:{signing.kid}")
    session.commit()
    return city


def root_fingerprint(session: DbSession) -> str:
    return cardformat.fingerprint(get_city(session).root_public_key)


def require_passphrase(session: DbSession, deps: Deps, *, now: datetime) -> None:
    """Before a key command writes anything: the passphrase must be the city's (keycheck).

    A mistyped passphrase would otherwise seal a new key that no correctly configured instance
    can open, and every issue and print would fail from then on.
    """
    from .keycheck import KeyCheckError, verify_passphrase

    try:
        verify_passphrase(session, deps.key_sealer, now=now)
    except KeyCheckError:
        raise SigningKeyError(
            _l("The key cannot be decrypted: check CARDSERVICE_KEY_PASSPHRASE.")
        ) from None


def open_sealed_key(blob: bytes, sealer: KeySealer) -> Ed25519PrivateKey:
    """The key, opened once per process (deps.key_sealer keeps it: the counter signs on every
    issue and print)."""
    try:
        return sealer.open(blob)
    except KeyFileError:
        raise SigningKeyError(
            _l("The key cannot be decrypted: check CARDSERVICE_KEY_PASSPHRASE.")
        ) from None


def _active_record(session: DbSession) -> SigningKey | None:
    # populate_existing: a copy in the identity map may predate a rotation by another worker.
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.state == KeyState.ACTIVE.value)
        .order_by(SigningKey.not_before.desc(), SigningKey.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).first()


def _seconds(moment: datetime) -> int:
    # Tokens and the published nbf/exp carry whole seconds (cardformat): compare as verifiers do.
    return int(moment.timestamp())


def can_sign_at(record: SigningKey, now: datetime) -> bool:
    """Whether a token issued at `now` under this key passes the verifiers' nbf..exp check."""
    issued = _seconds(now)
    if issued < _seconds(record.not_before):
        return False
    return record.not_after is None or issued < _seconds(record.not_after)


def rotation_due(record: SigningKey, now: datetime) -> bool:
    """The key must be replaced before signing at `now`: outside its validity, or within
    ROTATE_AHEAD of its end."""
    return not can_sign_at(record, now) or not can_sign_at(record, now + ROTATE_AHEAD)


def active_signing_key(
    session: DbSession, deps: Deps, *, now: datetime
) -> tuple[SigningKey, Ed25519PrivateKey]:
    """The key that signs at `now`. Never one that verifiers would refuse at `now`: callers
    run rotate_if_due first, so this refusal is the last line, not the way keys get rotated."""
    record = _active_record(session)
    if record is None:
        raise SigningKeyError(_l("There is no active signing key: rotate to create one."))
    if not can_sign_at(record, now):
        raise SigningKeyError(
            _l("The active signing key is outside its validity: rotate to create one.")
        )
    return record, open_sealed_key(record.private_key_pem, deps.key_sealer)


def rotate_if_due(session: DbSession, deps: Deps, *, now: datetime) -> bool:
    """Rotate the active key, in a transaction of its own, when it may not sign at `now`
    (rotation_due). Returns whether this call rotated.

    Called at the start of every signing path, before it takes any lock or writes anything:
    the rotation commits, and it locks every status list and the city, which a signing path
    holding a status list could not take in the app's lock order (services.locking). The check
    is one indexed read; the decision is made again under the locks, so two workers finding
    the key due at once rotate it once.
    """
    record = _active_record(session)
    if record is None or not rotation_due(record, now):
        return False
    return _rotate(session, deps, now=now, actor=AUTO_ROTATION, only_if_due=True) is not None


def expiry_warning(session: DbSession, *, now: datetime) -> datetime | None:
    """The active key's not_after when it is within EXPIRY_WARNING of `now`, else None."""
    record = _active_record(session)
    if record is None or record.not_after is None:
        return None
    return record.not_after if record.not_after - now <= EXPIRY_WARNING else None


def root_key(session: DbSession, deps: Deps) -> Ed25519PrivateKey:
    return open_sealed_key(get_city(session).root_private_key_pem, deps.key_sealer)


def list_keys(session: DbSession) -> list[KeyInfo]:
    keys = session.scalars(select(SigningKey).order_by(SigningKey.not_before, SigningKey.id))
    return [
        KeyInfo(
            kid=k.kid,
            state=k.state,
            not_before=k.not_before,
            not_after=k.not_after,
            retired_at=k.retired_at,
            revoked_at=k.revoked_at,
            fingerprint=cardformat.fingerprint(k.public_key),
        )
        for k in keys
    ]


def _lock_publications(session: DbSession) -> City:
    """Every status list, then the city, locked in the order the rest of the app takes them
    (services.locking): a key change re-signs all of them."""
    session.scalars(lock(select(StatusListRecord.id).order_by(StatusListRecord.id))).all()
    return locked_city(session)


def _invalidate_publications(session: DbSession, city: City) -> None:
    """Keys changed: the metadata and every status-list token must be re-signed (the caller
    holds their locks: _lock_publications)."""
    city.metadata_document = None
    session.execute(update(StatusListRecord).values(token=None))


def rotate_signing_key(session: DbSession, deps: Deps, *, now: datetime, actor: Actor) -> KeyInfo:
    """A new active key; the previous active keys become retired (their cards stay valid)."""
    info = _rotate(session, deps, now=now, actor=actor, only_if_due=False)
    assert info is not None
    return info


def _rotate(
    session: DbSession, deps: Deps, *, now: datetime, actor: Actor, only_if_due: bool
) -> KeyInfo | None:
    """rotate_signing_key; with only_if_due, nothing (None) unless every active key is due."""
    require_passphrase(session, deps, now=now)
    # Locked before the keys are read: two rotations at once would otherwise both retire the
    # same key and leave two active ones.
    city = _lock_publications(session)
    active = session.scalars(
        lock(select(SigningKey).where(SigningKey.state == KeyState.ACTIVE.value))
    ).all()
    if only_if_due and any(not rotation_due(key, now) for key in active):
        session.rollback()  # another worker rotated meanwhile
        return None
    for old in active:
        old.state = KeyState.RETIRED.value
        old.retired_at = now
        audit.record(session, now=now, actor=actor, action="key.retire", subject=f"key:{old.kid}")
    record, _ = _new_signing_key(deps, now)
    session.add(record)
    _invalidate_publications(session, city)
    audit.record(session, now=now, actor=actor, action="key.create", subject=f"key:{record.kid}")
    session.commit()
    return next(k for k in list_keys(session) if k.kid == record.kid)


def rotate_root_key(session: DbSession, deps: Deps, *, now: datetime, actor: Actor) -> str:
    """Replace the root key; the old root endorses the new one. Returns the new fingerprint.

    The endorsement joins the chain published in every later metadata, so partners that pinned
    any earlier root follow it on their next sync with no new fingerprint exchange. The old
    root's private key is discarded in the same transaction: it can endorse nothing else.
    Signing keys, cards and status lists are untouched; only the metadata is re-signed.
    """
    require_passphrase(session, deps, now=now)
    city = locked_city(session)
    old = open_sealed_key(city.root_private_key_pem, deps.key_sealer)
    new = cardformat.generate_key()
    new_public = cardformat.public_key_bytes(new)
    endorsement = cardformat.endorse_root(
        old_root=old, new_root=new_public, issuer=city.code, now=now
    )
    city.root_endorsements = [*(city.root_endorsements or []), endorsement.hex()]
    city.root_public_key = new_public
    city.root_private_key_pem = deps.key_sealer.seal(new)
    city.metadata_document = None
    subject = f"root:{cardformat.key_id(new).hex()}"
    audit.record(session, now=now, actor=actor, action="key.root_rotate", subject=subject)
    session.commit()
    return cardformat.fingerprint(new_public)


def revoke_signing_key(
    session: DbSession, deps: Deps, *, kid: str, now: datetime, actor: Actor
) -> KeyInfo:
    """Mark a key compromised: every card it signed fails verification until reprinted.

    Revoking the active key leaves the city without one, so a fresh key is created in the same
    transaction; the counter can keep issuing.
    """
    require_passphrase(session, deps, now=now)
    city = _lock_publications(session)
    kid = normalise_kid(kid)
    record = session.scalars(lock(select(SigningKey).where(SigningKey.kid == kid))).first()
    if record is None:
        raise NotFoundError(_l("No signing key has this id."), field="kid")
    if record.state == KeyState.REVOKED.value:
        raise ConflictError(_l("This key is already revoked."), code="key_already_revoked")
    was_active = record.state == KeyState.ACTIVE.value
    record.state = KeyState.REVOKED.value
    record.revoked_at = now
    audit.record(session, now=now, actor=actor, action="key.revoke", subject=f"key:{record.kid}")
    if was_active:
        replacement, _ = _new_signing_key(deps, now)
        session.add(replacement)
        audit.record(
            session, now=now, actor=actor, action="key.create", subject=f"key:{replacement.kid}"
        )
    _invalidate_publications(session, city)
    session.commit()
    return next(k for k in list_keys(session) if k.kid == kid)
