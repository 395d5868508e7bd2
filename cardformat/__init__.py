"""The municipal citizenship card format, framework-free.

Everything a card issuer or verifier needs: keys and key ids, the signed card token (``MC1:``
text in the QR code), status lists, and signed issuer metadata. Imports only the standard
library, ``cryptography`` and ``cbor2``. The normative specification is docs/card-format.md.
"""

from .errors import (
    BadSignatureError,
    CardFormatError,
    ExpiredError,
    KeyFileError,
    KeyRevokedError,
    MalformedError,
    NotYetValidError,
    RollbackError,
    UnknownKeyError,
    UnsupportedVersionError,
)
from .keys import (
    KeyResolver,
    KeyState,
    TrustedKey,
    dump_private_key,
    fingerprint,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    normalize_fingerprint,
    public_key_bytes,
)
from .metadata import (
    IssuerMetadata,
    PublishedKey,
    StatusListRef,
    endorse_root,
    sign_metadata,
    verify_metadata,
)
from .numbers import generate_card_number, normalize_card_number
from .statuslist import (
    MIN_STATUS_LIST_SIZE,
    Status,
    StatusList,
    VerifiedStatusList,
    allocate_index,
    sign_status_list,
    verify_status_list,
)
from .token import (
    MAX_NAME_BYTES,
    MAX_TEXT_LENGTH,
    PREFIX,
    Card,
    VerifiedCard,
    sign_card,
    validate_holder_name,
    validate_issuer_code,
    verify_card,
)

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_TEXT_LENGTH",
    "MIN_STATUS_LIST_SIZE",
    "PREFIX",
    "BadSignatureError",
    "Card",
    "CardFormatError",
    "ExpiredError",
    "IssuerMetadata",
    "KeyFileError",
    "KeyResolver",
    "KeyRevokedError",
    "KeyState",
    "MalformedError",
    "NotYetValidError",
    "PublishedKey",
    "RollbackError",
    "Status",
    "StatusList",
    "StatusListRef",
    "TrustedKey",
    "UnknownKeyError",
    "UnsupportedVersionError",
    "VerifiedCard",
    "VerifiedStatusList",
    "allocate_index",
    "dump_private_key",
    "endorse_root",
    "fingerprint",
    "generate_card_number",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "normalize_card_number",
    "normalize_fingerprint",
    "public_key_bytes",
    "sign_card",
    "sign_metadata",
    "sign_status_list",
    "validate_holder_name",
    "validate_issuer_code",
    "verify_card",
    "verify_metadata",
    "verify_status_list",
]
