"""The PKCS#11 master-key provider against a real SoftHSM2 token, initialised in a temp dir.

Skips only when Debian's softhsm2 package is not installed (CI installs it; see .ci/run).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass

from cardservice.services.crypto import (
    CryptoError,
    LocalMasterKeyProvider,
    ResidentCipher,
    ResidentRecord,
)
from cardservice.services.hsm import (
    ChainedMasterKeyProvider,
    Pkcs11MasterKeyProvider,
    open_session,
)

from .helpers import require_softhsm


@pytest.fixture(autouse=True)
def _softhsm_installed() -> None:
    require_softhsm()


RECORD = ResidentRecord(
    display_name="Zofia Wąsowska-Ødegård",
    birth_date=date(1983, 11, 29),
    gender_marker="F",
    address=None,
    preferred_language="pl",
    photo=b"\xff\xd8 not really a jpeg",
)


@pytest.fixture
def token(softhsm: dict[str, str]) -> dict[str, str]:
    return softhsm


@pytest.fixture
def label() -> Callable[[str], str]:
    """Key labels unique to the test (the token is shared by the session)."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


def _provider(token: dict[str, str], label: str, previous: tuple[str, ...] = ()) -> Any:
    return Pkcs11MasterKeyProvider(**token, key_label=label, previous_labels=previous)


def test_master_key_is_generated_non_extractable(token: dict[str, str], label: Any) -> None:
    l26 = label("master-2026")
    key_id = Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l26)
    assert key_id == "p11:" + l26
    with pytest.raises(CryptoError, match="already holds"):
        Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l26)
    with open_session(**token) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=l26)
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.VALUE_LEN] == 32
        # The token refuses to hand the key's value out, whatever the caller asks.
        with pytest.raises(pkcs11.PKCS11Error):
            key[Attribute.VALUE]


def test_records_sealed_and_opened_through_the_token(token: dict[str, str], label: Any) -> None:
    l26 = label("master-2026")
    Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l26)
    provider = _provider(token, l26)
    cipher = ResidentCipher(provider, os.urandom(32))
    sealed = cipher.seal("a" * 32, RECORD)
    assert sealed.master_key_id == "p11:" + l26
    assert RECORD.display_name.encode() not in sealed.ciphertext
    opened = cipher.open(
        "a" * 32,
        master_key_id=sealed.master_key_id,
        wrapped_data_key=sealed.wrapped_data_key,
        ciphertext=sealed.ciphertext,
    )
    assert opened == RECORD
    # The wrapped key is bound to its resident: moved to another row it does not unwrap.
    with pytest.raises(CryptoError):
        cipher.open(
            "b" * 32,
            master_key_id=sealed.master_key_id,
            wrapped_data_key=sealed.wrapped_data_key,
            ciphertext=sealed.ciphertext,
        )
    tampered = bytearray(sealed.wrapped_data_key)
    tampered[-1] ^= 1
    with pytest.raises(CryptoError, match="tampered"):
        provider.unwrap(bytes(tampered), key_id=sealed.master_key_id, context=b"x")
    for key_id in ("p11:someone-else", "0123456789abcdef"):
        with pytest.raises(CryptoError, match="lacks"):
            provider.unwrap(sealed.wrapped_data_key, key_id=key_id, context=b"x")
    # A token that is not there is a clear error, not a crash.
    missing = Pkcs11MasterKeyProvider(**{**token, "token_label": "no-such-token"}, key_label=l26)
    with pytest.raises(CryptoError, match="cannot open the hardware security module"):
        missing.wrap(os.urandom(32), context=b"x")
    # Nor is a label the token does not hold.
    with pytest.raises(CryptoError, match="no master key"):
        _provider(token, "never-created").wrap(os.urandom(32), context=b"x")
    provider.close()


def test_rotation_inside_the_token_then_old_key_destroyed(
    token: dict[str, str], label: Any
) -> None:
    l26, l27 = label("master-2026"), label("master-2027")
    Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l26)
    old = ResidentCipher(_provider(token, l26), b"i" * 32)
    sealed = old.seal("a" * 32, RECORD)

    Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l27)
    rotating = ResidentCipher(_provider(token, l27, (l26,)), b"i" * 32)
    rewrapped = rotating.rewrap(
        "a" * 32, master_key_id=sealed.master_key_id, wrapped_data_key=sealed.wrapped_data_key
    )
    assert rotating.provider.key_id == "p11:" + l27
    # The record's ciphertext is untouched: only the 60-byte wrapped key changed.
    new_only = ResidentCipher(_provider(token, l27), b"i" * 32)
    assert (
        new_only.open(
            "a" * 32,
            master_key_id="p11:" + l27,
            wrapped_data_key=rewrapped,
            ciphertext=sealed.ciphertext,
        )
        == RECORD
    )

    # Destroying the old key object in the token: a backup wrapped under it is noise now.
    with open_session(**token, rw=True) as session:
        session.get_key(object_class=ObjectClass.SECRET_KEY, label=l26).destroy()
    fresh = ResidentCipher(_provider(token, l27, (l26,)), b"i" * 32)
    with pytest.raises(CryptoError):
        fresh.open(
            "a" * 32,
            master_key_id=sealed.master_key_id,
            wrapped_data_key=sealed.wrapped_data_key,
            ciphertext=sealed.ciphertext,
        )


def test_moving_a_city_from_a_local_key_into_the_token(token: dict[str, str], label: Any) -> None:
    lh = label("master-hsm")
    local = LocalMasterKeyProvider(os.urandom(32))
    sealed = ResidentCipher(local, b"i" * 32).seal("a" * 32, RECORD)
    Pkcs11MasterKeyProvider.create_master_key(**token, key_label=lh)
    chained = ChainedMasterKeyProvider(_provider(token, lh), [local])
    cipher = ResidentCipher(chained, b"i" * 32)
    assert chained.key_id == "p11:" + lh
    rewrapped = cipher.rewrap(
        "a" * 32, master_key_id=sealed.master_key_id, wrapped_data_key=sealed.wrapped_data_key
    )
    hsm_only = ResidentCipher(_provider(token, lh), b"i" * 32)
    opened = hsm_only.open(
        "a" * 32,
        master_key_id="p11:" + lh,
        wrapped_data_key=rewrapped,
        ciphertext=sealed.ciphertext,
    )
    assert opened == RECORD
    with pytest.raises(CryptoError):
        hsm_only.open(
            "a" * 32,
            master_key_id=sealed.master_key_id,
            wrapped_data_key=sealed.wrapped_data_key,
            ciphertext=sealed.ciphertext,
        )


def test_one_session_shared_safely_by_threads(token: dict[str, str], label: Any) -> None:
    l26 = label("master-2026")
    Pkcs11MasterKeyProvider.create_master_key(**token, key_label=l26)
    provider = _provider(token, l26)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                context = f"resident {n} {i}".encode()
                data_key = os.urandom(32)
                wrapped = provider.wrap(data_key, context=context)
                assert provider.unwrap(wrapped, key_id=provider.key_id, context=context) == (
                    data_key
                )
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    provider.close()
