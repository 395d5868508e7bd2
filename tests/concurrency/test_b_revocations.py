"""3,000 revocations on both instances while status lists are fetched and a partner syncs.

Every list fetched is checked against the revocations committed before the fetch began (a
revocation is committed when its 200 has arrived), and so is the partner verifier's copy after
each of its syncs: a revoked card published as valid is counted, never tolerated.

Most cards are written straight into the database before the run (issuing 3,000 cards over
HTTP would take most of the suite's time and is not what is under test); a few are issued
through the API, and their QR codes go through the partner verifier's full verification.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

import cardformat
from cardformat import Status
from verifier.fetch import FetchError
from verifier.sync import add_partner, sync_partners
from verifier.trust import TrustStore
from verifier.trust_index import TrustIndex
from verifier.verification import verify_text

from .conftest import Suite, Tally, enrol, issue

REVOCATIONS = 3000
API_CARDS = 40  # issued through the API, verified from their QR codes by the partner
REVOKERS = 6
FETCHERS = 2
DEADLINE = 200.0  # seconds for the whole load; the test fails if the count is not reached


def _insert_cards(stack: Suite, count: int) -> list[tuple[str, int]]:
    """`count` valid cards with fresh numbers and free status indices of list 0."""
    import random

    now = datetime.now(UTC).replace(tzinfo=None)
    with stack.database.begin() as connection:
        kid = connection.scalar(text("SELECT kid FROM signing_key WHERE state = 'active'"))
        taken = set(connection.scalars(text("SELECT status_index FROM card")))
        size = connection.scalar(text("SELECT size FROM status_list WHERE id = 0"))
        indices = random.sample(sorted(set(range(size // 2)) - taken), count)
        numbers: set[str] = set()
        while len(numbers) < count:
            numbers.add(cardformat.generate_card_number())
        cards = list(zip(sorted(numbers), indices, strict=True))
        connection.execute(
            text(
                "INSERT INTO card (number, status_index, issued_at, expires_at, status, kid) "
                "VALUES (:n, :i, :now, :exp, 'valid', :kid)"
            ),
            [
                {"n": n, "i": i, "now": now, "exp": now + timedelta(days=365), "kid": kid}
                for n, i in cards
            ],
        )
    return cards


class Published:
    """Checks what was published against the revocations committed before it was fetched."""

    def __init__(self) -> None:
        self.committed: dict[int, str] = {}  # status index -> QR text ("" when not known)
        self.lock = threading.Lock()
        self.hidden: set[int] = set()  # revoked, yet published as valid (what must stay empty)
        self.checks = 0

    def snapshot(self) -> dict[int, str]:
        with self.lock:
            return dict(self.committed)

    def check(self, snapshot: dict[int, str], status_of: Callable[[int], int]) -> None:
        for index in snapshot:
            if status_of(index) != Status.REVOKED:
                self.hidden.add(index)
        self.checks += 1


def _resolver(stack: Suite, url: str) -> Any:
    data = requests.get(f"{url}/.well-known/citycard/issuer", timeout=30).content
    fingerprint = stack.cli("keys", "fingerprint")
    meta = cardformat.verify_metadata(data, pinned_fingerprint=fingerprint, now=datetime.now(UTC))
    keys = {
        k.kid: cardformat.TrustedKey(
            kid=k.kid, public_key=cardformat.load_public_key(k.public_key), issuer=meta.issuer
        )
        for k in meta.keys
    }
    return meta, fingerprint, keys.get


def test_revocations_are_never_published_as_valid(stack: Suite, tmp_path: Path) -> None:
    tally = Tally()
    clerk = stack.api(stack.tokens["clerk"])
    urls = [instance.url for instance in stack.instances]

    api_cards: list[tuple[str, str]] = []  # (number, qr)
    for i in range(API_CARDS):
        resident = enrol(clerk, urls[i % 2], tally).json()["id"]
        issued = issue(clerk, urls[(i + 1) % 2], resident, tally).json()
        api_cards.append((issued["number"], issued["qr"]))
    inserted = _insert_cards(stack, REVOCATIONS - API_CARDS)
    with stack.database.connect() as connection:
        index_of = dict(connection.execute(text("SELECT number, status_index FROM card")).all())
    qr_of = dict(api_cards)
    to_revoke = [number for number, _ in api_cards] + [number for number, _ in inserted]

    meta, fingerprint, resolve = _resolver(stack, urls[0])
    size = meta.status_list_size
    published = Published()
    stop = threading.Event()
    deadline = time.monotonic() + DEADLINE
    fetches = [0]
    sync_errors: list[str] = []

    def revoker(worker: int) -> None:
        http = stack.api(stack.tokens["supervisor"])
        for n, number in enumerate(to_revoke[worker::REVOKERS]):
            if time.monotonic() > deadline:
                return
            response = tally.add(
                http.post(
                    f"{urls[(worker + n) % 2]}/api/v1/cards/{number}/revoke",
                    json={"reason": "stolen"},
                    timeout=60,
                )
            )
            if response.status_code != 200:
                continue  # counted by the tally, reported below
            with published.lock:
                published.committed[index_of[number]] = qr_of.get(number, "")

    def fetcher(worker: int) -> None:
        http = requests.Session()
        n = 0
        while not stop.is_set():
            snapshot = published.snapshot()
            response = tally.add(
                http.get(f"{urls[(worker + n) % 2]}/.well-known/citycard/status/0", timeout=60)
            )
            n += 1
            if response.status_code != 200:
                continue  # counted by the tally, reported below
            lst = cardformat.verify_status_list(
                response.content, resolve_key=resolve, now=datetime.now(UTC)
            ).status_list
            published.check(snapshot, lambda index, lst=lst: lst.get(index % size))
            fetches[0] += 1
            time.sleep(0.05)  # about 20 fetches a second each: hundreds of overlaps, not a flood

    def partner() -> None:
        """A partner city's verifier, syncing as `verifier sync --every` does."""
        store = TrustStore(tmp_path)
        turn = [0]

        def fetch(url: str, *, max_bytes: int) -> bytes:
            turn[0] += 1
            local = url.replace(stack.public_url, urls[turn[0] % 2])
            response = tally.add(requests.get(local, timeout=60))
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {local}")
            return response.content[: max_bytes + 1]

        metadata_url = f"{stack.public_url}/.well-known/citycard/issuer"
        add_partner(
            store,
            metadata_url=metadata_url,
            pinned_fingerprint=fingerprint,
            now=datetime.now(UTC),
            fetch=fetch,
        )
        while not stop.is_set():
            snapshot = published.snapshot()
            now = datetime.now(UTC)
            (report,) = sync_partners(store, now=now, fetch=fetch)
            if not report.ok:
                sync_errors.extend(report.errors)
                continue
            index = TrustIndex.build(store.read())
            lists = index.partners[meta.issuer].status_lists
            published.check(
                snapshot, lambda i, lists=lists: lists[i // size].status_list.get(i % size)
            )
            # The cards issued through the API, as an agent's scan would check them.
            for status_index, qr in snapshot.items():
                if qr:
                    outcome = verify_text(
                        qr, index=index, now=now, max_status_age=timedelta(hours=1)
                    )
                    if outcome.result != "revoked":
                        published.hidden.add(status_index)
            time.sleep(0.5)

    started = time.monotonic()
    with ThreadPoolExecutor(REVOKERS + FETCHERS + 1) as pool:
        readers = [pool.submit(fetcher, w) for w in range(FETCHERS)] + [pool.submit(partner)]
        writers = [pool.submit(revoker, w) for w in range(REVOKERS)]
        for future in writers:
            future.result()
        stop.set()
        for future in readers:
            future.result()
    elapsed = time.monotonic() - started

    revoked = len(published.committed)
    print(
        f"\nrevocations {revoked} in {elapsed:.1f} s, list fetches {fetches[0]}, "
        f"checks {published.checks}, revoked but published valid {len(published.hidden)}, "
        f"responses 5xx {tally.server_errors} of {len(tally.statuses)}, "
        f"failed partner syncs {len(sync_errors)}"
    )
    assert published.hidden == set()
    assert tally.server_errors == 0
    assert not sync_errors
    assert revoked == REVOCATIONS
    # Exits non-zero on any list that disagrees with the cards, which fails the test.
    stack.cli("status", "check")
