"""The typed errors of the card format.

Verification never returns False: it returns what it verified or raises exactly one of these.
Each error carries ``code``, the verifier result code it maps to (docs/interfaces.md), so the
mapping is defined once, here, and every verifier agrees on it.
"""

from __future__ import annotations


class CardFormatError(Exception):
    """Base class of every error this package raises."""

    code = "malformed"


class MalformedError(CardFormatError):
    """The input is not a well-formed v1 object: length, prefix, base45, CBOR or structure."""

    code = "malformed"


class UnsupportedVersionError(MalformedError):
    """The text carries a version prefix this implementation does not know (for example MC2:)."""


class UnknownKeyError(CardFormatError):
    """No trusted key has the token's key id: the issuer is not pinned or not synced."""

    code = "unknown_issuer"


class BadSignatureError(CardFormatError):
    """The signature does not verify, or the signer is not the issuer the token names."""

    code = "bad_signature"


class KeyRevokedError(CardFormatError):
    """The signing key is revoked, or was retired before the token was issued."""

    code = "key_revoked"


class ExpiredError(CardFormatError):
    """The token's expiry is in the past."""

    code = "expired"


class NotYetValidError(CardFormatError):
    """The token's issued-at time is in the future (beyond the allowed clock skew)."""

    code = "not_yet_valid"


class RollbackError(CardFormatError):
    """Issuer metadata carries a serial lower than the last one accepted."""

    code = "rollback"


class KeyFileError(CardFormatError):
    """A private key file cannot be read: wrong passphrase, wrong type or damaged."""

    code = "key_file"
