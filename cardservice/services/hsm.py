"""A master key that never leaves a hardware security module: `MasterKeyProvider` over PKCS#11.

The master key is an AES-256 secret key object generated inside the token as sensitive and
non-extractable: the application holds only a handle and a PIN. Each data key is wrapped with
CKM_AES_GCM (96-bit random nonce, the resident's associated data bound as GCM AAD), so a wrapped
key moved to another resident's row fails to unwrap, exactly as with the local provider.

Why AES-GCM encryption of the 32 data-key bytes rather than C_WrapKey (CKM_AES_KEY_WRAP_PAD):
wrapping needs the data key as a token object, and reading it back after C_UnwrapKey needs it
extractable; encrypting bytes keeps the data keys out of the token entirely (nothing to clean up,
no object count growing) and binds the context, which RFC 5649 key wrap cannot.

Tested against SoftHSM2 (Debian package `softhsm2`); any PKCS#11 v2.40 token with AES-GCM works
(Thales Luna, Entrust nShield, YubiHSM 2, AWS CloudHSM's PKCS#11 library).

Rotation: generate a new key in the token (`create_master_key`), run with it as `key_label`
and the old one in `previous_labels`, run `cardservice keys rewrap`, then destroy the old key
object in the token; from that moment every backup holding data keys wrapped under it is
unreadable. `ChainedMasterKeyProvider` moves a city from a local key into an HSM the same way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from .crypto import CryptoError, MasterKeyProvider, MissingMasterKeyError

_NONCE_BYTES = 12
_PREFIX = "p11:"
# master_key_id is a String(32) column: the prefix and the label must fit in it.
MAX_LABEL_LENGTH = 32 - len(_PREFIX)


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # an optional extra: `pip install 'citycard[hsm]'`
        raise CryptoError(
            "the PKCS#11 provider needs python-pkcs11 (install the 'hsm' extra)"
        ) from None
    return pkcs11


def open_session(module: str, token_label: str, pin: str, *, rw: bool = False) -> Any:
    """A session on the token, logged in as its user.

    PKCS#11 login state belongs to the process, not to a session: when another session of this
    process has already logged in (a second provider during a rotation), a new session shares
    that login instead of failing with CKR_USER_ALREADY_LOGGED_IN.
    """
    pkcs11 = _pkcs11()
    token = pkcs11.lib(module).get_token(token_label=token_label)
    try:
        return token.open(rw=rw, user_pin=pin)
    except pkcs11.UserAlreadyLoggedIn:
        return token.open(rw=rw)


def _check_label(label: str) -> str:
    if not label or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise ValueError(f"a master key label is 1 to {MAX_LABEL_LENGTH} printable characters")
    return label


class Pkcs11MasterKeyProvider(MasterKeyProvider):
    """Wraps data keys with AES-GCM inside a PKCS#11 token.

    One logged-in session per process, opened on first use (never before a fork: gunicorn
    workers each open their own, as PKCS#11 requires) and shared by threads under a lock,
    because a PKCS#11 session is not safe for concurrent use.
    """

    def __init__(
        self,
        *,
        module: str,
        token_label: str,
        pin: str,
        key_label: str,
        previous_labels: Sequence[str] = (),
    ) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._current = _check_label(key_label)
        self._labels = {_check_label(label) for label in (*previous_labels, key_label)}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._session: Any = None
        self._keys: dict[str, Any] = {}

    @classmethod
    def create_master_key(cls, *, module: str, token_label: str, pin: str, key_label: str) -> str:
        """Generate a new sensitive, non-extractable AES-256 master key in the token.

        Refuses to create a second key under an existing label. Returns its key id.
        """
        _pkcs11()
        from pkcs11 import Attribute, KeyType, ObjectClass

        _check_label(key_label)
        with open_session(module, token_label, pin, rw=True) as session:
            existing = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: key_label}
                )
            )
            if existing:
                raise CryptoError(f"the token already holds a key labelled {key_label!r}")
            session.generate_key(
                KeyType.AES,
                256,
                label=key_label,
                store=True,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                },
            )
        return _PREFIX + key_label

    @property
    def key_id(self) -> str:
        return _PREFIX + self._current

    def _key(self, label: str) -> Any:
        # Called with the lock held.
        pkcs11 = _pkcs11()
        from pkcs11 import KeyType, ObjectClass

        if self._pid != os.getpid() or self._session is None:
            try:
                self._session = open_session(self._module, self._token_label, self._pin)
            except pkcs11.PKCS11Error as exc:
                # Missing token, wrong PIN, module not loadable: one clear line, no traceback.
                raise CryptoError(
                    f"cannot open the hardware security module ({type(exc).__name__})"
                ) from None
            self._pid = os.getpid()
            self._keys = {}
        key = self._keys.get(label)
        if key is None:
            try:
                key = self._session.get_key(
                    object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label
                )
            except pkcs11.NoSuchKey:
                raise CryptoError(f"the token holds no master key labelled {label!r}") from None
            self._keys[label] = key
        return key

    def _run(self, label: str, operation: str, data: bytes, nonce: bytes, aad: bytes) -> bytes:
        pkcs11 = _pkcs11()
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        params = GCMParams(nonce, aad, 128)
        with self._lock:
            for attempt in (1, 2):
                key = self._key(label)
                try:
                    method = key.encrypt if operation == "encrypt" else key.decrypt
                    result: bytes = method(
                        data, mechanism=Mechanism.AES_GCM, mechanism_param=params
                    )
                    return result
                except (pkcs11.SessionClosed, pkcs11.SessionHandleInvalid, pkcs11.DeviceRemoved):
                    # The token restarted or dropped us: log in again once, then give up.
                    self._session = None
                    if attempt == 2:
                        raise CryptoError("the hardware security module is unavailable") from None
                except pkcs11.PKCS11Error:
                    if operation == "decrypt":
                        raise CryptoError(
                            "cannot unwrap the data key: wrong master key or tampered"
                        ) from None
                    raise CryptoError("the hardware security module refused to wrap") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._run(self._current, "encrypt", data_key, nonce, context)

    def unwrap(self, wrapped: bytes, *, key_id: str, context: bytes) -> bytes:
        label = key_id.removeprefix(_PREFIX)
        if not key_id.startswith(_PREFIX) or label not in self._labels:
            raise MissingMasterKeyError(key_id)
        if len(wrapped) <= _NONCE_BYTES:
            raise CryptoError("cannot unwrap the data key: damaged")
        return self._run(label, "decrypt", wrapped[_NONCE_BYTES:], wrapped[:_NONCE_BYTES], context)

    def close(self) -> None:
        with self._lock:
            if self._session is not None and self._pid == os.getpid():
                self._session.close()
            self._session = None
            self._keys = {}


class ChainedMasterKeyProvider(MasterKeyProvider):
    """Wraps with `current`; unwraps with whichever provider holds the key id.

    For moving from one provider to another (a local key into an HSM, one HSM to the next):
    run `cardservice keys rewrap` with this, then drop the old provider.
    """

    def __init__(self, current: MasterKeyProvider, previous: Sequence[MasterKeyProvider]) -> None:
        self._current = current
        self._all = (current, *previous)

    @property
    def key_id(self) -> str:
        return self._current.key_id

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        return self._current.wrap(data_key, context=context)

    def close(self) -> None:
        for provider in self._all:
            provider.close()

    def unwrap(self, wrapped: bytes, *, key_id: str, context: bytes) -> bytes:
        failure: CryptoError | None = None
        for provider in self._all:
            try:
                return provider.unwrap(wrapped, key_id=key_id, context=context)
            except MissingMasterKeyError as exc:
                failure = failure or exc
            except CryptoError as exc:
                # A provider that holds the key but cannot unwrap says more (tampered, damaged)
                # than the others' "not mine".
                if failure is None or isinstance(failure, MissingMasterKeyError):
                    failure = exc
        assert failure is not None
        raise failure
