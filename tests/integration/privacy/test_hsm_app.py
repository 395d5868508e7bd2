"""The issuance app with its master key in a PKCS#11 token (SoftHSM2): configuration, enrolment
wrapped in the token, and a city moving its existing residents from a local key into the token
with `cardservice keys rewrap`. Skips only when softhsm2 is not installed."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from cardservice.config import ConfigError, load_config
from cardservice.models import ResidentKey
from cardservice.services.hsm import Pkcs11MasterKeyProvider

from .helpers import auth, enrol, require_softhsm


@pytest.fixture(autouse=True)
def _softhsm_installed() -> None:
    require_softhsm()


def _row(session: Any, rid: str) -> tuple[str, bytes]:
    """The master key id of the resident's data key (key store) and their ciphertext (resident
    database, through raw SQL)."""
    master_key_id = session.get(ResidentKey, rid).master_key_id
    ciphertext = session.execute(
        text("SELECT ciphertext FROM resident WHERE id = :id"), {"id": rid}
    ).scalar_one()
    session.remove()
    return master_key_id, bytes(ciphertext)


def test_configuration_from_the_environment(tmp_path, softhsm: dict[str, str]) -> None:
    env = {
        "CARDSERVICE_INSTANCE_PATH": str(tmp_path),
        "CARDSERVICE_PKCS11_MODULE": softhsm["module"],
        "CARDSERVICE_PKCS11_TOKEN_LABEL": softhsm["token_label"],
        "CARDSERVICE_PKCS11_KEY_LABEL": "master-2026",
        "CARDSERVICE_PKCS11_PREVIOUS_KEY_LABELS": "master-2024, master-2025",
    }
    with pytest.raises(ConfigError, match="CARDSERVICE_PKCS11_PIN"):
        load_config(env)
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm["pin"] + "\n")
    config = load_config({**env, "CARDSERVICE_PKCS11_PIN_FILE": str(pin_file)})
    assert config["PKCS11_PIN"] == softhsm["pin"]
    assert config["PKCS11_PREVIOUS_KEY_LABELS"] == ["master-2024", "master-2025"]
    without_label = {k: v for k, v in env.items() if k != "CARDSERVICE_PKCS11_KEY_LABEL"}
    with pytest.raises(ConfigError, match="CARDSERVICE_PKCS11_KEY_LABEL"):
        load_config({**without_label, "CARDSERVICE_PKCS11_PIN": "1234"})
    assert load_config({"CARDSERVICE_INSTANCE_PATH": str(tmp_path)})["PKCS11_MODULE"] == ""


def test_city_moves_its_master_key_into_the_token(
    app, make_app, client, session, city, tokens, softhsm: dict[str, str]
) -> None:
    label = f"master-{uuid.uuid4().hex[:8]}"
    key_id = Pkcs11MasterKeyProvider.create_master_key(**softhsm, key_label=label)
    before = enrol(client, tokens["clerk"], display_name="Enrolled Before")
    local_id, ciphertext = _row(session, before)
    assert not local_id.startswith("p11:")

    settings = {
        "PKCS11_MODULE": softhsm["module"],
        "PKCS11_TOKEN_LABEL": softhsm["token_label"],
        "PKCS11_PIN": softhsm["pin"],
        "PKCS11_KEY_LABEL": label,
        "PKCS11_PREVIOUS_KEY_LABELS": [],
    }
    hsm_app = make_app(**settings)
    with hsm_app.app_context():
        hsm_client = hsm_app.test_client()
        after = enrol(hsm_client, tokens["clerk"], display_name="Enrolled After")
        assert _row(session, after)[0] == key_id  # new residents: wrapped in the token
        # Old residents still open through the local key until the rewrap.
        page = hsm_client.get(f"/api/v1/residents/{before}", headers=auth(tokens["clerk"]))
        assert page.get_json()["display_name"] == "Enrolled Before"
        result = hsm_app.test_cli_runner().invoke(args=["keys", "rewrap"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"1 data key(s) re-wrapped under master key {key_id}."
    assert _row(session, before) == (key_id, ciphertext)  # the record itself untouched

    # The local master key is then destroyed: the token alone opens everyone.
    token_only = make_app(MASTER_KEY=base64.b64encode(os.urandom(32)).decode(), **settings)
    with token_only.app_context():
        reader = token_only.test_client()
        for rid, name in ((before, "Enrolled Before"), (after, "Enrolled After")):
            body = reader.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"]))
            assert body.status_code == 200 and body.get_json()["display_name"] == name


def test_a_wrong_token_key_stops_the_start(app, make_app, softhsm: dict[str, str]) -> None:
    """An instance pointed at another key of the token would wrap data keys that the other
    instances cannot unwrap: the master key's check value stops it at start."""
    from cardservice.config import ConfigError

    labels = [f"master-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for label in labels:
        Pkcs11MasterKeyProvider.create_master_key(**softhsm, key_label=label)
    settings = {
        "PKCS11_MODULE": softhsm["module"],
        "PKCS11_TOKEN_LABEL": softhsm["token_label"],
        "PKCS11_PIN": softhsm["pin"],
        "PKCS11_PREVIOUS_KEY_LABELS": [],
    }
    make_app(PKCS11_KEY_LABEL=labels[0], **settings)  # the first start records the token's key
    with pytest.raises(ConfigError, match=r"^CARDSERVICE_PKCS11_KEY_LABEL") as refused:
        make_app(PKCS11_KEY_LABEL=labels[1], **settings)
    assert softhsm["pin"] not in str(refused.value)
    make_app(PKCS11_KEY_LABEL=labels[0], **settings)  # the right key still starts
