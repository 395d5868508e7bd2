"""A record wrapped under a master key the instance no longer holds (the old key removed before
`cardservice keys rewrap` finished): a stable domain error, a 503, and a log line for the operator
with the key id and nothing about the person."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from cardservice.models import ResidentKey
from cardservice.services import residents
from cardservice.services.errors import MasterKeyUnavailableError

from .conftest import NOW, auth, enrolment

GONE_KEY_ID = "0f1e2d3c4b5a6978"


def _orphan_resident(session: Any, deps: Any, actor: Any) -> str:
    """A resident whose data key names a master key this app was never given."""
    resident_id = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    key = session.get(ResidentKey, resident_id.resident_id)
    key.master_key_id = GONE_KEY_ID
    session.commit()
    return key.resident_id


def test_the_service_raises_a_domain_error(
    city: Any, session: Any, deps: Any, actor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    resident_id = _orphan_resident(session, deps, actor)
    with (
        caplog.at_level(logging.ERROR, logger="cardservice"),
        pytest.raises(MasterKeyUnavailableError) as caught,
    ):
        residents.get_resident(session, deps, resident_id)
    assert caught.value.code == "master_key_unavailable"
    assert caught.value.status == 503
    lines = [r.getMessage() for r in caplog.records if r.name == "cardservice.residents"]
    assert len(lines) == 1 and GONE_KEY_ID in lines[0]
    assert resident_id not in lines[0] and "Amira" not in lines[0]


def test_the_api_answers_503_problem_json(
    city: Any,
    session: Any,
    deps: Any,
    actor: Any,
    tokens: dict[str, str],
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resident_id = _orphan_resident(session, deps, actor)
    with caplog.at_level(logging.INFO, logger="cardservice"):
        response = client.get(f"/api/v1/residents/{resident_id}", headers=auth(tokens["clerk"]))
        issued = client.post(
            f"/api/v1/residents/{resident_id}/cards", headers=auth(tokens["clerk"])
        )
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "master_key_unavailable"
    assert issued.status_code == 503
    assert issued.get_json()["code"] == "master_key_unavailable"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert GONE_KEY_ID in logged
    assert "Amira" not in logged and "Haddad" not in logged and "Traceback" not in logged


def test_the_providers_name_the_missing_key() -> None:
    from cardservice.services.crypto import (
        CryptoError,
        LocalMasterKeyProvider,
        MissingMasterKeyError,
    )
    from cardservice.services.hsm import ChainedMasterKeyProvider

    old, new = LocalMasterKeyProvider(b"\x01" * 32), LocalMasterKeyProvider(b"\x02" * 32)
    wrapped = old.wrap(b"k" * 32, context=b"ctx")
    for provider in (new, ChainedMasterKeyProvider(new, [LocalMasterKeyProvider(b"\x03" * 32)])):
        with pytest.raises(MissingMasterKeyError) as caught:
            provider.unwrap(wrapped, key_id=old.key_id, context=b"ctx")
        assert caught.value.master_key_id == old.key_id
    # The chain still reports a damaged key as damaged, not as missing.
    chain = ChainedMasterKeyProvider(new, [old])
    with pytest.raises(CryptoError) as damaged:
        # The last byte flipped (replacing it with 0x00 left it intact one time in 256).
        chain.unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]), key_id=old.key_id, context=b"ctx")
    assert not isinstance(damaged.value, MissingMasterKeyError)


def test_keys_rewrap_names_the_missing_key_in_one_line(
    city: Any, session: Any, deps: Any, actor: Any, runner: Any
) -> None:
    resident_id = _orphan_resident(session, deps, actor)
    result = runner.invoke(args=["keys", "rewrap"])
    assert result.exit_code == 1
    assert GONE_KEY_ID in result.output
    assert "CARDSERVICE_PREVIOUS_MASTER_KEYS" in result.output
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    # Nothing of that resident was changed.
    session.expire_all()
    assert session.get(ResidentKey, resident_id).master_key_id == GONE_KEY_ID
