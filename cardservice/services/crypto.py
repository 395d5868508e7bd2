"""Encryption of resident data at rest, with a data key per resident (crypto-shredding).

Layout of one resident: a fresh 256-bit data key encrypts the CBOR record with AES-256-GCM
(96-bit random nonce, the resident id as associated data); the data key is stored only wrapped by
the master key through a `MasterKeyProvider`. The ciphertext lives in the resident database
(models.Resident); the wrapped data key lives in a separate database, the data-key store
(models.ResidentKey, the `keystore` bind). Opening a record takes all three: the resident
database, the key store and the master key.

What erasure destroys, and when: erasure deletes the resident's row in the key store first (one
key-store transaction), then the record (one resident-database transaction). From the moment
the key-store deletion commits, every copy of the record is unreadable, backups of the resident
database included (a pg_dump, a file copy), even to someone holding the master key: the only
wrapped copy of the data key is gone. What remains is the key store's own backups: a snapshot of
the key store taken before the erasure still holds the wrapped key, so the key store is
replicated rather than kept in long-lived snapshots, or its snapshots are kept a bounded number of
days, which bounds when an erasure reaches them (docs/privacy.md, "Backups and the data-key
store"). Rotating the master key (`cardservice keys rewrap`) and destroying the old one also
forgets such snapshots.

`MasterKeyProvider` is the seam for a KMS or an HSM: anything that can wrap and unwrap 32 bytes.
The local provider below keeps the master key in process memory (from the environment or a key
file) and wraps with AES-256-GCM.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .namefold import FOLDING_VERSION, fold_name

RECORD_VERSION = 1
_NONCE_BYTES = 12


class CryptoError(Exception):
    """A record or key cannot be decrypted: wrong master key, tampered or damaged data."""


class MissingMasterKeyError(CryptoError):
    """The data key was wrapped by a master key this instance does not hold: typically an old
    master key removed from the configuration before `cardservice keys rewrap` had finished.
    Carries the master key id (a one-way tag, never key material) for the operator."""

    def __init__(self, master_key_id: str) -> None:
        self.master_key_id = master_key_id
        super().__init__(
            f"the data key was wrapped by master key {master_key_id}, which this instance lacks"
        )


class MasterKeyProvider(ABC):
    """Wraps and unwraps per-resident data keys. Implementations never expose the master key."""

    @property
    @abstractmethod
    def key_id(self) -> str:
        """Identifier of the master key new data keys are wrapped with (stored per resident)."""

    @abstractmethod
    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Wrap a data key under the current master key; `context` is bound as associated data."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, key_id: str, context: bytes) -> bytes:
        """Unwrap a data key wrapped under master key `key_id`; raises CryptoError."""

    def close(self) -> None:  # noqa: B027 (an optional hook: most providers hold nothing)
        """Release what the provider holds open (an HSM session); it reopens on next use."""


def _master_key_id(key: bytes) -> str:
    # A one-way tag of the key, so the stored id says which key without revealing anything.
    return hmac.new(key, b"citycard master key id", hashlib.sha256).hexdigest()[:16]


class LocalMasterKeyProvider(MasterKeyProvider):
    """Master key(s) held in memory: from CARDSERVICE_MASTER_KEY or a key file.

    `previous` keys only unwrap; they exist so a rotation can re-wrap data keys in place.
    """

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        for key in (current, *previous):
            if len(key) != 32:
                raise ValueError("a master key is 32 bytes")
        self._current_id = _master_key_id(current)
        self._keys = {_master_key_id(k): AESGCM(k) for k in (*previous, current)}

    @property
    def key_id(self) -> str:
        return self._current_id

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._keys[self._current_id].encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, *, key_id: str, context: bytes) -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise MissingMasterKeyError(key_id)
        try:
            return aead.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context)
        except InvalidTag:
            raise CryptoError("cannot unwrap the data key: wrong master key or tampered") from None


@dataclass(frozen=True, kw_only=True)
class ResidentRecord:
    """Everything the city knows about a resident, only ever held in clear in memory."""

    display_name: str
    birth_date: date | None
    gender_marker: str | None
    address: str | None
    preferred_language: str
    photo: bytes | None  # JPEG, re-encoded and stripped by services.photos


@dataclass(frozen=True)
class SealedRecord:
    master_key_id: str
    wrapped_data_key: bytes
    ciphertext: bytes


def normalise_for_index(name: str) -> str:
    """The blind index's first normalisation (version 1): compatibility-fold, case-fold and
    collapse spaces, so 'Ana  MARÍA' finds 'ana maría' but not 'ana maria'. Kept only to find
    rows not yet re-indexed (`cardservice residents reindex`); version 2 is namefold.fold_name."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(folded.split())


class ResidentCipher:
    """Seals and opens resident records; computes the blind index."""

    def __init__(self, provider: MasterKeyProvider, index_key: bytes) -> None:
        if len(index_key) != 32:
            raise ValueError("the index key is 32 bytes")
        self.provider = provider
        self._index_key = index_key

    @staticmethod
    def _aad(resident_id: str) -> bytes:
        return b"citycard resident v1\x00" + resident_id.encode("ascii")

    @staticmethod
    def _payload(record: ResidentRecord) -> bytes:
        return cbor2.dumps(
            {
                "v": RECORD_VERSION,
                "n": record.display_name,
                "b": record.birth_date.isoformat() if record.birth_date else None,
                "g": record.gender_marker,
                "a": record.address,
                "l": record.preferred_language,
                "p": record.photo,
            }
        )

    def seal(self, resident_id: str, record: ResidentRecord) -> SealedRecord:
        """Encrypt under a fresh data key; returns the ciphertext and the wrapped data key."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        aad = self._aad(resident_id)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, self._payload(record), aad)
        wrapped = self.provider.wrap(data_key, context=aad)
        return SealedRecord(self.provider.key_id, wrapped, ciphertext)

    def reseal(
        self,
        resident_id: str,
        record: ResidentRecord,
        *,
        master_key_id: str,
        wrapped_data_key: bytes,
    ) -> bytes:
        """Encrypt a corrected record under the resident's existing data key (fresh nonce).

        A correction must not replace the key: the key store and the resident database cannot
        change in one transaction, and a new key committed without its record (or the reverse)
        would leave a record nothing can open. The key lives as long as the resident, and its
        destruction at erasure forgets every version of the record alike.
        """
        aad = self._aad(resident_id)
        data_key = self.provider.unwrap(wrapped_data_key, key_id=master_key_id, context=aad)
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(data_key).encrypt(nonce, self._payload(record), aad)

    def open(
        self, resident_id: str, *, master_key_id: str, wrapped_data_key: bytes, ciphertext: bytes
    ) -> ResidentRecord:
        aad = self._aad(resident_id)
        data_key = self.provider.unwrap(wrapped_data_key, key_id=master_key_id, context=aad)
        try:
            payload = AESGCM(data_key).decrypt(
                ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:], aad
            )
        except InvalidTag:
            raise CryptoError("cannot decrypt the resident record: tampered or damaged") from None
        fields: dict[str, Any] = cbor2.loads(payload)
        if fields.get("v") != RECORD_VERSION:
            raise CryptoError("unknown resident record version")
        return ResidentRecord(
            display_name=fields["n"],
            birth_date=date.fromisoformat(fields["b"]) if fields["b"] else None,
            gender_marker=fields["g"],
            address=fields["a"],
            preferred_language=fields["l"],
            photo=fields["p"],
        )

    def rewrap(self, resident_id: str, *, master_key_id: str, wrapped_data_key: bytes) -> bytes:
        """The same data key, wrapped under the current master key (the record is untouched)."""
        aad = self._aad(resident_id)
        data_key = self.provider.unwrap(wrapped_data_key, key_id=master_key_id, context=aad)
        return self.provider.wrap(data_key, context=aad)

    def index_key_check(self) -> bytes:
        """A check value of the index key (services.keycheck): a PRF output of a constant, which
        tells whether two instances hold the same key and nothing about the key."""
        return hmac.new(self._index_key, b"citycard index key check v1", hashlib.sha256).digest()

    def blind_index(
        self, display_name: str, birth_date: date | None, *, version: int = FOLDING_VERSION
    ) -> str:
        """HMAC of the name folded as `version` says, and the birth date. Each version has its
        own domain label, so indexes of two versions never collide."""
        if version == 1:
            label, name = b"citycard name+birth v1", normalise_for_index(display_name)
        elif version == 2:
            label, name = b"citycard name+birth v2", fold_name(display_name)
        else:
            raise ValueError(f"unknown blind index version {version}")
        message = b"\x00".join(
            (
                label,
                name.encode("utf-8"),
                (birth_date.isoformat() if birth_date else "").encode("ascii"),
            )
        )
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def blind_indexes(self, display_name: str, birth_date: date | None) -> tuple[str, ...]:
        """Every index a stored row for this name and birth date may carry: the current
        version's, and version 1's for rows the re-index has not reached yet."""
        return tuple(
            self.blind_index(display_name, birth_date, version=v)
            for v in range(FOLDING_VERSION, 0, -1)
        )
