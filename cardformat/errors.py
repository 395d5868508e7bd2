"""The typed errors of the card format.

Verification never returns False: it returns what it verified or raises exactly one of these.
Each error carries ``code``, the verifier result code it maps to (docs/interfaces.md), so the
mapping is defined once, here, and every verifier agrees on it: each class names its code as a
class keyword, and a subclass that names none keeps its parent's.
"""

from __future__ import annotations

from typing import Any


class CardFormatError(Exception):
    """Base class of every error this package raises."""

    code = "malformed"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code


class MalformedError(CardFormatError, code="malformed"):
    """The input is not a well-formed v1 object: length, prefix, base45, CBOR or structure."""


class UnsupportedVersionError(MalformedError):
    """The text carries a version prefix this implementation does not know (for example MC2:)."""


class UnknownKeyError(CardFormatError, code="unknown_issuer"):
    """No trusted key has the token's key id: the issuer is not pinned or not synced."""


class BadSignatureError(CardFormatError, code="bad_signature"):
    """The signature does not verify, or the signer is not the issuer the token names."""


class KeyRevokedError(CardFormatError, code="key_revoked"):
    """The signing key is revoked, or was retired before the token was issued."""


class ExpiredError(CardFormatError, code="expired"):
    """The token's expiry is in the past."""


class NotYetValidError(CardFormatError, code="not_yet_valid"):
    """The token's issued-at time is in the future (beyond the allowed clock skew)."""


class RollbackError(CardFormatError, code="rollback"):
    """Issuer metadata carries a serial lower than the last one accepted."""


class KeyFileError(CardFormatError, code="key_file"):
    """A private key file cannot be read: wrong passphrase, wrong type or damaged."""
