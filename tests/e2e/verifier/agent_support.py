"""Helpers of the agent page's end-to-end tests: a test issuer built with cardformat, a verifier
trust store that pins it, a live server, and a fake-camera video of a card.

Kept in this folder (not imported from another conftest) so these tests stand alone; the
documents the issuer publishes are made by tests.fake_city, shared with the other verifier tests
and the benchmarks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from PIL import Image
from werkzeug.serving import WSGIRequestHandler, make_server

from cardformat import (
    MIN_STATUS_LIST_SIZE,
    KeyState,
    Status,
    StatusList,
    generate_key,
    key_id,
    sign_metadata,
    sign_status_list,
)
from cardformat.base45 import b45decode, b45encode
from tests.fake_city import issuer_metadata, partner_record, published_key, signed_card
from verifier.trust import TrustStore

STATUS_TTL = 3600
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).parent / "screenshots"


@dataclass
class FakeIssuer:
    code: str = "FR SXB"
    names: dict[str, str] = field(
        default_factory=lambda: {"fr": "Strasbourg", "en": "Strasbourg", "ar": "ستراسبورغ"}
    )
    root: Ed25519PrivateKey = field(default_factory=generate_key)
    signing: Ed25519PrivateKey = field(default_factory=generate_key)
    statuses: StatusList = field(default_factory=lambda: StatusList(MIN_STATUS_LIST_SIZE))
    base_url: str = "https://citycard.example.org"
    next_index: int = 1000
    key_state: KeyState = KeyState.ACTIVE
    retired_at: datetime | None = None

    @property
    def kid(self) -> bytes:
        return key_id(self.signing)

    def status_uri(self) -> str:
        return f"{self.base_url}/status/0"

    def card(
        self,
        *,
        now: datetime,
        name: str = "Amina Haddad",
        birth_date: date | None = date(1990, 5, 17),
        valid_for: timedelta = timedelta(days=3 * 365),
        status: Status = Status.VALID,
        key: Ed25519PrivateKey | None = None,
    ) -> str:
        """Sign a card issued at ``now``; sets its status in the list."""
        index = self.next_index
        self.next_index += 7
        if index < self.statuses.size:  # beyond it: a list this issuer does not publish
            self.statuses.set(index, status)
        text, _ = signed_card(
            issuer=self.code,
            signing_key=key or self.signing,
            now=now,
            expires_at=now + valid_for,
            status_index=index,
            holder_name=name,
            birth_date=birth_date,
        )
        return text

    def metadata(self, *, now: datetime) -> bytes:
        meta = issuer_metadata(
            code=self.code,
            names=self.names,
            root=self.root,
            keys=[
                published_key(
                    self.signing,
                    state=self.key_state,
                    not_before=now - timedelta(days=2000),
                    retired_at=self.retired_at,
                )
            ],
            status_list_uris={0: self.status_uri()},
            issued_at=now,
        )
        return sign_metadata(meta, root_key=self.root)

    def status_token(self, *, now: datetime) -> bytes:
        return sign_status_list(
            self.statuses,
            issuer=self.code,
            uri=self.status_uri(),
            signing_key=self.signing,
            now=now,
            ttl=STATUS_TTL,
        )

    def install(
        self, instance: Path, *, now: datetime, status_issued_at: datetime | None = None
    ) -> None:
        """Pin this issuer in the trust store of ``instance``, as ``verifier sync`` would."""
        listed_at = status_issued_at or now
        record = partner_record(
            code=self.code,
            metadata_url=f"{self.base_url}/.well-known/citycard/issuer",
            root=self.root,
            metadata=self.metadata(now=now),
            status_list_uri=self.status_uri(),
            status_list_token=self.status_token(now=listed_at),
            status_list_fetched_at=listed_at,
            at=now,
            last_synced_at=now,
        )
        with TrustStore(instance).transaction() as records:
            records[self.code] = record


def forge(text: str, *, old: str, new: str) -> str:
    """The same card with text in its signed payload changed: what a forger would try."""
    raw = b45decode(text.removeprefix("MC1:"))
    before, after = old.encode(), new.encode()
    assert len(before) == len(after) and raw.count(before) == 1
    return "MC1:" + b45encode(raw.replace(before, after))


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:
        pass  # keep the test output readable


class LiveServer:
    """The app on a free local port, in a thread, until ``stop``."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)


@contextmanager
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    try:
        yield server
    finally:
        server.stop()


def qr_image(text: str, *, box_size: int = 6) -> Image.Image:
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").convert("L")


def write_y4m(
    path: Path, image: Image.Image, *, width: int = 640, height: int = 480, frames: int = 10
) -> None:
    """A YUV4MPEG2 video (4:2:0) showing ``image`` centred on white: Chromium's fake camera."""
    frame = Image.new("L", (width, height), 255)
    picture = image.copy()
    picture.thumbnail((height - 40, height - 40))
    frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))  # grey: no colour
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420\n".encode("ascii"))
        for _ in range(frames):
            fh.write(b"FRAME\n")
            fh.write(luma)
            fh.write(chroma)
            fh.write(chroma)


def camera_context(launch: Any, video: Path, origin: str) -> Any:
    """A phone-sized browser context whose camera plays ``video`` (a y4m file) and that
    ``origin`` may use without asking; ``launch`` is the fixture that starts Chromium."""
    browser = launch(
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    context.grant_permissions(["camera"], origin=origin)
    return context


def screenshot(page: Any, name: str) -> Path:
    """Saved for a person to look at (gitignored); the tests never compare pixels."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
