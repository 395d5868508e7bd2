"""Helpers of the verifier's integration tests: a fake issuing city and a clock.

The fake issuing city is built with cardformat alone (keys, signed metadata, signed status
lists, cards; the documents themselves are made by tests.fake_city), the way cardservice
publishes, so these tests need no cardservice code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cardformat import (
    MIN_STATUS_LIST_SIZE,
    Card,
    IssuerMetadata,
    KeyState,
    StatusList,
    fingerprint,
    generate_key,
    key_id,
    sign_metadata,
    sign_status_list,
)
from tests.fake_city import issuer_metadata, published_key, signed_card

# A fixed, injected clock: every signature, sync and verification in a test agrees on "now".
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class SigningKey:
    key: Any
    state: KeyState = KeyState.ACTIVE
    not_before: datetime = START - timedelta(days=2000)
    retired_at: datetime | None = None

    @property
    def kid(self) -> bytes:
        return key_id(self.key)


@dataclass
class FakeIssuer:
    """A city that issues cards and publishes what a verifier needs, as cardservice would."""

    code: str
    names: dict[str, str]
    base_url: str = ""
    root: Any = field(default_factory=generate_key)
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey(generate_key())])
    lists: dict[int, StatusList] = field(
        default_factory=lambda: {0: StatusList(MIN_STATUS_LIST_SIZE, 2)}
    )
    serial: int = 1
    metadata_ttl: int = 86400
    list_ttl: int = 3600
    list_lifetime: timedelta | None = None
    docs: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    not_modified: list[str] = field(default_factory=list)  # paths answered 304
    next_index: int = 1000

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.root)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/citycard/issuer"

    @property
    def active(self) -> SigningKey:
        return next(k for k in self.keys if k.state is KeyState.ACTIVE)

    def metadata(self, now: datetime) -> IssuerMetadata:
        return issuer_metadata(
            code=self.code,
            names=self.names,
            root=self.root,
            keys=(
                published_key(
                    k.key, state=k.state, not_before=k.not_before, retired_at=k.retired_at
                )
                for k in self.keys
            ),
            status_list_uris={i: self.status_list_uri(i) for i in self.lists},
            serial=self.serial,
            issued_at=now,
            ttl=self.metadata_ttl,
        )

    def status_list_uri(self, list_id: int) -> str:
        return f"{self.base_url}/.well-known/citycard/status/{list_id}"

    def publish(self, now: datetime, *, bump: bool = True) -> None:
        """Re-sign everything as of ``now``; the serial grows unless told otherwise."""
        if bump:
            self.serial += 1
        self.docs["/.well-known/citycard/issuer"] = sign_metadata(
            self.metadata(now), root_key=self.root
        )
        for i, status_list in self.lists.items():
            self.docs[f"/.well-known/citycard/status/{i}"] = sign_status_list(
                status_list,
                issuer=self.code,
                uri=self.status_list_uri(i),
                signing_key=self.active.key,
                now=now,
                ttl=self.list_ttl,
                expires_at=None if self.list_lifetime is None else now + self.list_lifetime,
            )

    def card(
        self,
        *,
        now: datetime,
        name: str = "Amina Haddad",
        birth_date: date | None = date(1990, 4, 2),
        index: int | None = None,
        expires_at: datetime | None = None,
        key: SigningKey | None = None,
        issuer: str | None = None,
    ) -> tuple[str, Card]:
        if index is None:
            index = self.next_index
            self.next_index += 7
        return signed_card(
            issuer=issuer or self.code,
            signing_key=(key or self.active).key,
            now=now,
            expires_at=expires_at or now + timedelta(days=3 * 365),
            status_index=index,
            holder_name=name,
            birth_date=birth_date,
        )

    def set_status(self, index: int, status: int) -> None:
        list_id, position = divmod(index, MIN_STATUS_LIST_SIZE)
        self.lists[list_id].set(position, status)


def verify(client: Any, qr: Any, **headers: str) -> Any:
    response = client.post("/api/v1/verify", json={"qr": qr}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def pin(
    runner: Any, issuer: FakeIssuer, *, url: str | None = None, fingerprint: str | None = None
) -> Any:
    """`verifier partners add` for the issuer; another URL or fingerprint to see one refused.
    Returns the CLI's result."""
    return runner.invoke(
        args=[
            "partners",
            "add",
            "--metadata-url",
            url or issuer.metadata_url,
            "--fingerprint",
            fingerprint or issuer.fingerprint,
        ]
    )
