"""Publication: what partner cities' verifiers fetch, verified with cardformat as they would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import cardformat

from .conftest import auth
from .test_api import enrol

ISSUER_URL = "/.well-known/citycard/issuer"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Controls the clock the public endpoints use."""

    class Clock:
        now = datetime.now(UTC).replace(microsecond=0)

        def advance(self, **kwargs: float) -> None:
            self.now += timedelta(**kwargs)

    clock = Clock()
    monkeypatch.setattr("cardservice.publish.utcnow", lambda: clock.now)
    return clock


def _fingerprint(session: Any) -> str:
    from cardservice.services.keys import root_fingerprint

    return root_fingerprint(session)


def _metadata(client: Any, session: Any, now: datetime) -> cardformat.IssuerMetadata:
    response = client.get(ISSUER_URL)
    assert response.status_code == 200
    return cardformat.verify_metadata(
        response.data, pinned_fingerprint=_fingerprint(session), now=now
    )


def _resolver(meta: cardformat.IssuerMetadata) -> Any:
    trusted = {k.kid: k for k in meta.trusted_keys()}
    return trusted.get


def test_issuer_metadata_is_root_signed(client, session, city, clock) -> None:
    response = client.get(ISSUER_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/cose"
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    meta = cardformat.verify_metadata(
        response.data, pinned_fingerprint=_fingerprint(session), now=clock.now
    )
    assert meta.issuer == "FR SXB"
    assert meta.names == {"fr": "Strasbourg", "de": "Straßburg"}
    assert meta.serial == 1
    assert meta.status_list_size == 131072
    assert [ref.uri for ref in meta.status_lists] == [
        "http://cards.test/.well-known/citycard/status/0"
    ]
    assert [k.state for k in meta.keys] == [cardformat.KeyState.ACTIVE]
    # A stranger's pin refuses it.
    other = cardformat.fingerprint(cardformat.generate_key())
    with pytest.raises(cardformat.BadSignatureError):
        cardformat.verify_metadata(response.data, pinned_fingerprint=other, now=clock.now)


def test_etag_and_not_modified(client, city, clock) -> None:
    first = client.get(ISSUER_URL)
    second = client.get(ISSUER_URL)
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    cached = client.get(ISSUER_URL, headers={"If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""


def test_serial_grows_on_change_and_refresh(client, session, deps, actor, city, clock) -> None:
    from cardservice.services.keys import rotate_signing_key

    assert _metadata(client, session, clock.now).serial == 1
    new_key = rotate_signing_key(session, deps, now=clock.now, actor=actor)
    meta = _metadata(client, session, clock.now)
    assert meta.serial == 2
    states = {k.kid.hex(): k.state for k in meta.keys}
    assert states[new_key.kid] == cardformat.KeyState.ACTIVE
    assert sorted(s.value for s in states.values()) == ["active", "retired"]
    # Unchanged content is re-signed once half the time-to-live has passed.
    clock.advance(seconds=meta.ttl // 2 + 1)
    refreshed = _metadata(client, session, clock.now)
    assert refreshed.serial == 3 and refreshed.issued_at > meta.issued_at
    # The serial never goes back: a verifier that saw 3 accepts 3 and refuses older documents.
    cardformat.verify_metadata(
        client.get(ISSUER_URL).data,
        pinned_fingerprint=_fingerprint(session),
        now=clock.now,
        min_serial=3,
    )


def test_status_list_reflects_revocation(client, session, city, tokens, clock) -> None:
    rid = enrol(client, tokens["clerk"])
    issued = client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])).get_json()
    meta = _metadata(client, session, clock.now)
    verified = cardformat.verify_card(issued["qr"], resolve_key=_resolver(meta), now=clock.now)
    ref, position = meta.status_list_ref(verified.card.status_index)
    path = ref.uri.removeprefix("http://cards.test")

    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/statuslist+cwt"
    etag = response.headers["ETag"]
    status_list = cardformat.verify_status_list(
        response.data, resolve_key=_resolver(meta), now=clock.now, expected_uri=ref.uri
    )
    assert status_list.status_list.size == 131072
    assert status_list.status_list.get(position) == cardformat.Status.VALID
    assert status_list.issuer == "FR SXB"

    client.post(
        f"/api/v1/cards/{issued['number']}/revoke",
        json={"reason": "stolen"},
        headers=auth(tokens["supervisor"]),
    )
    response = client.get(path)
    assert response.headers["ETag"] != etag
    status_list = cardformat.verify_status_list(
        response.data, resolve_key=_resolver(meta), now=clock.now, expected_uri=ref.uri
    )
    assert status_list.status_list.get(position) == cardformat.Status.REVOKED
    # Every other entry of the list is still valid.
    assert sum(1 for i in range(0, 131072, 997) if status_list.status_list.get(i)) <= 1


def test_status_list_resigned_after_key_rotation(client, session, deps, actor, city, clock) -> None:
    from cardservice.services.keys import rotate_signing_key

    before = client.get("/.well-known/citycard/status/0").data
    new_key = rotate_signing_key(session, deps, now=clock.now, actor=actor)
    meta = _metadata(client, session, clock.now)
    after = client.get("/.well-known/citycard/status/0").data
    assert after != before
    # Signed by the new active key (the one in the metadata).
    cardformat.verify_status_list(
        after,
        resolve_key=lambda kid: _resolver(meta)(kid) if kid.hex() == new_key.kid else None,
        now=clock.now,
    )


def test_unknown_status_list_is_a_problem(client, city) -> None:
    for path in ("/.well-known/citycard/status/7", "/.well-known/citycard/status/abc"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_publication_before_city_setup(client) -> None:
    response = client.get(ISSUER_URL)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "city_not_initialised"


def test_printed_card_round_trip(client, session, city, tokens, clock) -> None:
    """The PDF a clerk prints, read back by real tools: render at 300 dpi with pypdfium2, decode
    the QR code with zxing-cpp, verify it against the published metadata and status list."""
    import pypdfium2
    import zxingcpp

    rid = enrol(client, tokens["clerk"], display_name="Ελένη Παπαδοπούλου")
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    pdf = client.get(f"/api/v1/cards/{number}.pdf?layout=card", headers=auth(tokens["clerk"]))
    assert pdf.status_code == 200
    document = pypdfium2.PdfDocument(pdf.data)
    texts = []
    try:
        found = []
        for page in document:
            bitmap = page.render(scale=300 / 72)
            found += zxingcpp.read_barcodes(bitmap.to_pil())
            texts.append(page.get_textpage().get_text_range())
    finally:
        document.close()
    qr = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(qr) == 1 and qr[0].startswith("MC1:")

    meta = _metadata(client, session, clock.now)
    verified = cardformat.verify_card(qr[0], resolve_key=_resolver(meta), now=clock.now)
    assert verified.card.number == number
    assert verified.card.holder_name == "Ελένη Παπαδοπούλου"
    ref, position = meta.status_list_ref(verified.card.status_index)
    status = cardformat.verify_status_list(
        client.get(ref.uri.removeprefix("http://cards.test")).data,
        resolve_key=_resolver(meta),
        now=clock.now,
        expected_uri=ref.uri,
    )
    assert status.status_list.get(position) == cardformat.Status.VALID
    assert number in " ".join(texts)


def test_a_half_full_list_opens_the_next_one(client, session, city, tokens, clock) -> None:
    """Herd privacy: a list takes cards until half full, then a new list of the same size opens
    and appears in the metadata; cards in it verify against it."""
    from cardservice.models import StatusListRecord

    record = session.get(StatusListRecord, 0)
    record.allocated = record.size // 2
    session.commit()
    serial_before = _metadata(client, session, clock.now).serial

    rid = enrol(client, tokens["clerk"])
    issued = client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])).get_json()
    meta = _metadata(client, session, clock.now)
    assert meta.serial > serial_before
    assert [ref.id for ref in meta.status_lists] == [0, 1]
    verified = cardformat.verify_card(issued["qr"], resolve_key=_resolver(meta), now=clock.now)
    assert verified.card.status_index >= 131072
    ref, position = meta.status_list_ref(verified.card.status_index)
    assert ref.id == 1 and ref.uri.endswith("/status/1")
    client.post(
        f"/api/v1/cards/{issued['number']}/revoke",
        json={"reason": "fraud"},
        headers=auth(tokens["supervisor"]),
    )
    token = client.get("/.well-known/citycard/status/1").data
    status = cardformat.verify_status_list(
        token, resolve_key=_resolver(meta), now=clock.now, expected_uri=ref.uri
    )
    assert status.status_list.get(position) == cardformat.Status.REVOKED
    first = cardformat.verify_status_list(
        client.get("/.well-known/citycard/status/0").data,
        resolve_key=_resolver(meta),
        now=clock.now,
    )
    assert first.status_list.get(position) == cardformat.Status.VALID
