"""Password rules of staff accounts: length, a strength estimate, a list of common passwords;
and a staff member's own password change.

The rules follow NIST SP 800-63B section 3.1.1.2 and OWASP ASVS 5.0 V6.2: at least 12
characters (up to 1,024: passphrases welcome), no composition rules, refused when found in a
list of passwords from breaches (the bundled common-passwords.txt, scripts/common_passwords.py
says where it comes from) or when zxcvbn estimates it falls to few guesses (words, names,
repeats, keyboard walks, dates, the user name itself).
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from datetime import datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from ..models import StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import NotFoundError, ValidationError
from .locking import locked
from .sessions import end_sessions

MIN_LENGTH = 12
MAX_LENGTH = 1024
# zxcvbn's score 3 is "safely unguessable: moderate protection from offline slow-hash
# scenario" (10^8 to 10^10 guesses); the online form is further rate limited and locked.
MIN_SCORE = 3
# zxcvbn's matching grows quickly with length; what lies beyond this only adds strength.
_ZXCVBN_MAX_CHARS = 72  # zxcvbn 4.5 refuses longer input (ValueError)
_COMMON = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


# --- hashing: argon2id -------------------------------------------------------------------------

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


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lowercased (about 16,000 entries, 150 KB: read once per process)."""
    with open(_COMMON, encoding="utf-8") as handle:
        return frozenset(
            line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#")
        )


def password_problem(password: str, *, username: str = "") -> LazyString | None:
    """Why this password is refused, or None. Never quotes the password."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return _l("The password needs at least %(n)s characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("This password is too long.")
    folded = password.strip().lower()
    if folded in common_passwords():
        return _l("This password is one of the most common ones: choose another.")
    if username and username.lower() in folded:
        return _l("The password must not contain the user name.")
    from zxcvbn import zxcvbn

    inputs = [username, "citycard", "cardservice", "counter"] if username else ["citycard"]
    score = int(zxcvbn(password[:_ZXCVBN_MAX_CHARS], user_inputs=inputs)["score"])
    if score < MIN_SCORE:
        return _l("This password is too easy to guess. A few unrelated words make a strong one.")
    return None


def check_password(password: str, *, username: str = "") -> None:
    problem = password_problem(password, username=username)
    if problem is not None:
        raise ValidationError({"password": problem})


def change_own_password(
    session: DbSession,
    *,
    user_id: int,
    current: str | None,
    new: str,
    now: datetime,
) -> None:
    """A staff member replaces their own password: the current one proves it is them (a
    session left open is not enough), the new one must differ and pass the rules. `current` is
    None only in the sign-in that forces the change, which checked the password a moment ago."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        raise NotFoundError(_l("No such user."))
    if current is not None and not verify_password(user.password_hash, current):
        raise ValidationError({"current_password": _l("This is not your current password.")})
    if verify_password(user.password_hash, new or ""):
        raise ValidationError({"password": _l("Choose a password different from the current one.")})
    check_password(new, username=user.username)
    session.rollback()  # no transaction open across the slow hashing above
    record = locked(session, StaffUser, user_id)
    if record is None:
        raise NotFoundError(_l("No such user."))
    record.password_hash = hash_password(new)
    record.must_change_password = False
    # The member's other sessions were opened with the old password: they end with it.
    end_sessions(user_id, except_current=True, db_session=session, commit=False)
    audit.record_for_user(
        session, user_id, now=now, actor=Actor.staff(user_id), action="user.password_change"
    )
    session.commit()
