"""Revision 0005 on a live database: signed documents cached before the card format required
deterministic encoding (issuer metadata, status-list tokens) are re-signed on the first request
after the upgrade, with no operator action.

The database is built at revision 0004 with a city whose cached documents are signed with its
own keys but encoded as before (map keys out of canonical order), which current verifiers
refuse; after the upgrade the service publishes documents they accept. Runs on fresh SQLite
files, or on fresh schemas of the PostgreSQL test server (the key-store migration's fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask_migrate import upgrade

import cardformat
from cardformat import cose
from cardservice.extensions import db
from cardservice.models import City, StatusListRecord
from cardservice.services import deps as get_deps
from cardservice.services import keys, publication
from cardservice.services.audit import Actor

from .test_key_store_migration import fresh_app  # noqa: F401 (the fixture)

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _as_before(document: bytes, key: Ed25519PrivateKey) -> bytes:
    """The same document as an older release encoded it: its payload's map keys in reverse
    order (valid CBOR, not deterministic), signed again with the same key."""
    parts = cbor2.loads(document)
    tagged = isinstance(parts, cbor2.CBORTag)
    protected, unprotected, body, _ = parts.value if tagged else parts
    payload = cbor2.loads(body)
    old_body = cbor2.dumps(dict(reversed(list(payload.items()))))
    assert old_body != body
    signature = key.sign(cose.sig_structure(protected, old_body))
    old = [protected, unprotected, old_body, signature]
    return cbor2.dumps(cbor2.CBORTag(parts.tag, old) if tagged else old)


def _resolver(metadata: cardformat.IssuerMetadata) -> Any:
    return {key.kid: key for key in metadata.trusted_keys()}.get


def test_upgrade_clears_old_cached_documents_and_they_are_signed_again(
    fresh_app: Flask,  # noqa: F811 (the fixture imported above)
) -> None:
    app = fresh_app
    with app.app_context():
        upgrade(revision="0004")
        session, deps = db.session, get_deps(app)
        keys.init_city(
            session,
            deps,
            code="FR SXB",
            names={"fr": "Strasbourg"},
            now=NOW,
            actor=Actor.system("test"),
        )
        pinned = keys.root_fingerprint(session)
        current = publication.issuer_metadata(session, deps, now=NOW)
        publication.status_list_token(session, deps, 0, now=NOW)
        # The caches as an older release left them.
        city = session.query(City).one()
        city.metadata_document = _as_before(current.body, keys.root_key(session, deps))
        record = session.get(StatusListRecord, 0)
        _, signing = keys.active_signing_key(session, deps, now=NOW)
        record.token = _as_before(record.token, signing)
        session.commit()
        later = NOW + timedelta(minutes=1)  # well within both time-to-lives
        cached = publication.issuer_metadata(session, deps, now=later).body
        with pytest.raises(cardformat.MalformedError):
            cardformat.verify_metadata(cached, pinned_fingerprint=pinned, now=later)
        db.session.remove()

        upgrade()

        session = db.session
        metadata_body = publication.issuer_metadata(session, deps, now=later).body
        metadata = cardformat.verify_metadata(metadata_body, pinned_fingerprint=pinned, now=later)
        assert metadata.serial == current_serial(current.body, pinned) + 1
        token = publication.status_list_token(session, deps, 0, now=later).body
        cardformat.verify_status_list(
            token,
            resolve_key=_resolver(metadata),
            now=later,
            expected_uri=publication.status_list_uri(deps, 0),
        )
        db.session.remove()


def current_serial(body: bytes, pinned: str) -> int:
    return cardformat.verify_metadata(body, pinned_fingerprint=pinned, now=NOW).serial
