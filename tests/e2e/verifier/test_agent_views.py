"""The agent page's server side, without a browser: headers, service worker, manifest, strings.

No end-to-end marker: these run in the Flask test client in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from verifier.agent import PAGE_STRINGS, STATIC
from verifier.config import LANGUAGES
from verifier.verification import RESULTS


@pytest.fixture
def client(make_app: Any) -> Any:
    return make_app(AGENT_CLEAR_SECONDS=7).test_client()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = dict(attrs).get("id") if tag == "script" else None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.data[self._in] = self.data.get(self._in, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_page_runs_no_inline_script_and_loads_nothing_from_elsewhere(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp
    assert "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp
    assert response.headers["Cache-Control"] == "no-cache"
    page = _parse(response.get_data(as_text=True))
    for tag, attrs in page.tags:
        if tag == "script":
            # Code only from a file of this app; inline blocks are data that never runs.
            assert attrs.get("src") or attrs.get("type") == "application/json"
        for name in ("src", "href", "action"):
            value = attrs.get(name)
            assert not value or value.startswith("/"), (tag, name, value)


def test_page_carries_every_language_and_the_configured_clear_time(client) -> None:
    page = _parse(client.get("/", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True))
    html = dict(page.tags[0][1]) if page.tags[0][0] == "html" else {}
    assert html == {"lang": "pt", "dir": "ltr"}
    strings = json.loads(page.data["agent-strings"])
    assert set(strings) == set(LANGUAGES)
    for lang, texts in strings.items():
        assert set(PAGE_STRINGS) <= set(texts), lang
        assert all(texts[key].strip() for key in PAGE_STRINGS), lang
        assert set(texts["results"]) == set(RESULTS)
        assert texts["dir"] == ("rtl" if lang == "ar" else "ltr")
    # Translated, not English everywhere.
    assert strings["fr"]["verdict_valid"] != strings["en"]["verdict_valid"]
    assert "%(seconds)s" in strings["ar"]["clears_in"]
    config = json.loads(page.data["agent-config"])
    assert config["clearSeconds"] == 7
    assert config["verifyUrl"] == "/api/v1/verify"


def test_arabic_is_served_right_to_left(client) -> None:
    page = _parse(client.get("/?lang=ar").get_data(as_text=True))
    assert page.tags[0] == ("html", {"lang": "ar", "dir": "rtl"})


def test_service_worker_is_served_from_the_root_and_lists_real_assets(client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.get_data(as_text=True)
    settings = json.loads(re.match(r"const SETTINGS = (.*);\n", body).group(1))
    assert settings["page"] == "/"
    assert settings["snapshot"] == "/api/v1/trust-snapshot"
    assert re.fullmatch(r"[0-9a-f]{16}", settings["version"])
    assets = settings["assets"]
    for name in (
        "agent.js",
        "verify.js",
        "agent.css",
        "vendor/zxing-wasm/reader/zxing_reader.wasm",
    ):
        assert f"/agent/static/{name}" in assets
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200, asset
        got.close()
    wasm = client.get("/agent/static/vendor/zxing-wasm/reader/zxing_reader.wasm")
    assert wasm.mimetype == "application/wasm"  # WebAssembly.instantiateStreaming needs it
    wasm.close()


def test_manifest_names_the_app_and_its_icons(client) -> None:
    response = client.get("/manifest.webmanifest", headers={"Accept-Language": "fr"})
    assert response.mimetype == "application/manifest+json"
    doc = response.get_json(force=True)
    assert doc["lang"] == "fr"
    page = _parse(client.get("/").get_data(as_text=True))
    french = json.loads(page.data["agent-strings"])["fr"]["app_name"]
    assert doc["name"] == french != "City card check"
    assert doc["start_url"] == "/"
    for icon in doc["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200
        got.close()


def test_vendored_decoder_matches_its_record() -> None:
    """The committed zxing-wasm files are exactly what vendor.mjs copied from npm."""
    vendor = STATIC / "vendor" / "zxing-wasm"
    record = json.loads((vendor / "VENDORED.json").read_text())
    lock = json.loads((Path(STATIC).parent / "package-lock.json").read_text())
    assert record["version"] == lock["packages"]["node_modules/zxing-wasm"]["version"]
    for name, digest in record["files"].items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
