"""The trust store with networks: what is stored, what survives tampering, older stores."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cardformat import MIN_STATUS_LIST_SIZE, StatusList, generate_key, public_key_bytes
from tests.fake_city import network_record, partner_record, published_documents, signed_directory
from verifier.trust import TrustStore
from verifier.trust_index import TrustIndex

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BASE = "https://cards.example"


def _store(tmp_path: Path, *, direct: bool) -> tuple[TrustStore, bytes]:
    root, signer = generate_key(), generate_key()
    docs = published_documents(
        code="FR SXB",
        names={"fr": "Strasbourg"},
        root=root,
        signing_key=signer,
        statuses=StatusList(MIN_STATUS_LIST_SIZE),
        base_url=BASE,
        prefix="",
        now=NOW,
        key_not_before=NOW - timedelta(days=1),
    )
    record = partner_record(
        code="FR SXB",
        metadata_url=f"{BASE}/issuer",
        root=root,
        metadata=docs["/issuer"],
        status_list_uri=f"{BASE}/status/0",
        status_list_token=docs["/status/0"],
        at=NOW,
    )
    net_root = generate_key()
    directory = signed_directory(
        network="NET",
        root=net_root,
        members=[("FR SXB", {"fr": "Strasbourg"}, f"{BASE}/issuer", public_key_bytes(root))],
        now=NOW,
    )
    store = TrustStore(tmp_path)
    with store.transaction_all() as document:
        document.partners["FR SXB"] = replace(record, direct=direct)
        document.networks["NET"] = network_record(
            network="NET", root=net_root, directory=directory, url=f"{BASE}/net", at=NOW
        )
    return store, directory


def _index(store: TrustStore) -> TrustIndex:
    document = store.read_all()
    return TrustIndex.build(document.partners, networks=document.networks)


def test_a_network_only_partner_is_trusted_while_the_directory_vouches(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, direct=False)
    partner = _index(store).partner("FR SXB")
    assert partner is not None and not partner.direct
    assert partner.trusted_at(NOW)
    assert [v.network for v in partner.vouching(NOW)] == ["NET"]
    assert not partner.trusted_at(NOW + timedelta(days=30))  # the directory's expiry
    with store.transaction() as partners:  # a partner-only write (partners add) keeps them
        partners.pop("XX XXX", None)
    assert list(store.read_all().networks) == ["NET"]


def test_a_tampered_stored_directory_vouches_for_nobody(tmp_path: Path) -> None:
    store, directory = _store(tmp_path, direct=False)
    doc = json.loads(store.path.read_text())
    tampered = bytearray(directory)
    tampered[-5] ^= 1
    doc["networks"][0]["directory"] = base64.b64encode(bytes(tampered)).decode()
    store.path.write_text(json.dumps(doc))
    index = _index(store)
    assert index.partner("FR SXB") is None  # unknown_issuer, never trusted unverified
    assert any("network NET: stored directory does not verify" in p for p in index.problems)


def test_a_direct_partner_does_not_depend_on_the_network(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, direct=True)
    doc = json.loads(store.path.read_text())
    doc["networks"] = []
    store.path.write_text(json.dumps(doc))
    partner = _index(store).partner("FR SXB")
    assert partner is not None and partner.trusted_at(NOW + timedelta(days=60))


def test_a_store_written_before_networks_still_loads(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, direct=True)
    doc = json.loads(store.path.read_text())
    del doc["networks"]
    for partner in doc["partners"]:
        del partner["direct"]
    store.path.write_text(json.dumps(doc))
    document = store.read_all()
    assert document.networks == {} and document.partners["FR SXB"].direct
    with store.transaction() as partners:  # a partner-only write keeps the networks it read
        assert "FR SXB" in partners
    assert "networks" not in json.loads(store.path.read_text())


def test_networks_that_disagree_on_a_root_vouch_through_neither(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, direct=False)
    other_root = generate_key()
    directory = signed_directory(
        network="OTHER",
        root=other_root,
        members=[
            ("FR SXB", {"fr": "Strasbourg"}, f"{BASE}/issuer", public_key_bytes(generate_key()))
        ],
        now=NOW,
    )
    with store.transaction_all() as document:
        document.networks["OTHER"] = network_record(
            network="OTHER", root=other_root, directory=directory, url=f"{BASE}/other", at=NOW
        )
    index = _index(store)
    assert index.partner("FR SXB") is None
    assert "FR SXB: networks OTHER list another root" in index.problems
