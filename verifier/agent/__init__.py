"""The agent's scanning page at ``/``: a phone-sized web app that verifies cards.

Online, the page asks the server (POST /api/v1/verify, POST /api/v1/decode-image). Offline, a
service worker serves the page, its assets and the last trust snapshot from its cache, and the
page verifies the card itself (static/verify.js, held to the server's verdicts by the parity
tests in tests/e2e/verifier/).

Every text the page shows goes through Flask-Babel here: the view renders the strings of every
supported language into the page as JSON, so the agent can switch language (or start the page
offline) without a round trip. The page runs no inline script, so a strict Content-Security-
Policy applies to it; it loads nothing from another origin and sends no analytics.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import force_locale, lazy_gettext

from ..config import LANGUAGES
from ..i18n import RESULT_MESSAGES, RTL_LANGUAGES, current_language

HERE = Path(__file__).parent
STATIC = HERE / "static"
DEFAULT_CLEAR_SECONDS = 20

bp = Blueprint(
    "agent",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/agent/static",
)

# Shown in the switcher in their own language and script, never translated.
LANGUAGE_NAMES = {
    "fr": "Français",
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "ar": "العربية",
}

# The page's own texts. The per-result explanations are the API's (verifier.i18n), so the page
# and any API client tell the agent the same thing.
PAGE_STRINGS: dict[str, Any] = {
    "app_name": lazy_gettext("City card check"),
    "language": lazy_gettext("Language"),
    "ready": lazy_gettext("Ready. Scan a card."),
    "ready_hint": lazy_gettext(
        "Use the camera, a USB or Bluetooth scanner, or a photo of the card's QR code."
    ),
    "checking": lazy_gettext("Checking…"),
    # The four verdicts (valid, invalid, unknown, unreadable) and their titles per result.
    "verdict_valid": lazy_gettext("Genuine"),
    "verdict_invalid": lazy_gettext("Not valid"),
    "verdict_forged": lazy_gettext("Not genuine"),
    "verdict_unknown": lazy_gettext("Status unknown"),
    "verdict_unknown_issuer": lazy_gettext("Cannot be checked here"),
    "verdict_not_yet_valid": lazy_gettext("Not valid yet"),
    "verdict_clock": lazy_gettext("Check the clock"),
    "verdict_unreadable": lazy_gettext("Could not read the code"),
    "unreadable_hint": lazy_gettext("Scan again. A misread is not a sign of a false card."),
    "clock_in_doubt_device": lazy_gettext(
        "This device's date and time are earlier than its trust data, so it cannot tell "
        "whether the card is valid now. Correct the device's clock, then scan again."
    ),
    "compare_title": lazy_gettext("Now compare"),
    "compare_name": lazy_gettext("The name and date of birth above match the printed card."),
    "compare_photo": lazy_gettext("The photo on the card is the person in front of you."),
    "compare_why": lazy_gettext(
        "A genuine code can be copied onto a false card: only this comparison reveals it."
    ),
    "holder_name": lazy_gettext("Name"),
    "birth_date": lazy_gettext("Date of birth"),
    "not_given": lazy_gettext("Not on the card"),
    "issuer": lazy_gettext("Issued by"),
    "expires": lazy_gettext("Valid until"),
    "card_number": lazy_gettext("Card number"),
    "status_checked": lazy_gettext("Status as of"),
    "checked_offline": lazy_gettext("Checked on this device, without network."),
    "clears_in": lazy_gettext("Clears in %(seconds)s s."),
    "clear_now": lazy_gettext("Clear now"),
    "camera": lazy_gettext("Camera"),
    "camera_start": lazy_gettext("Start camera"),
    "camera_stop": lazy_gettext("Stop camera"),
    "camera_hint": lazy_gettext("Hold the card's QR code inside the frame."),
    "camera_preview": lazy_gettext("Camera preview"),
    "camera_denied": lazy_gettext(
        "The camera is not allowed. Allow it in the browser's settings, "
        "or use the scanner field or a photo."
    ),
    "camera_unavailable": lazy_gettext(
        "No camera can be used on this device. Use the scanner field or a photo."
    ),
    # The camera's light (capture.js shows the switch only where the camera has one).
    "torch": lazy_gettext("Torch"),
    "scanner": lazy_gettext("Scanner or typed code"),
    "scanner_hint": lazy_gettext(
        "With a USB or Bluetooth scanner, scan into this field: the card is checked as soon "
        "as the whole code has arrived."
    ),
    "check": lazy_gettext("Check"),
    "photo": lazy_gettext("Photo of the card"),
    "photo_hint": lazy_gettext("A clear, close photo of the QR code."),
    "check_photo": lazy_gettext("Check photo"),
    "no_code_in_photo": lazy_gettext("No QR code could be read in this photo. Try a closer one."),
    "photo_too_large": lazy_gettext("This photo is too large. Take a smaller one."),
    "empty_input": lazy_gettext("Nothing to check: scan or type a card's code first."),
    "server_error": lazy_gettext("The check could not be completed. Try again."),
    "rate_limited": lazy_gettext("Too many checks in a short time. Wait a moment."),
    "online": lazy_gettext("Online"),
    "offline": lazy_gettext("Offline: cards are checked on this device."),
    "offline_since": lazy_gettext("Trust data from %(date)s."),
    "offline_no_data": lazy_gettext(
        "Offline and this device has no trust data yet. Connect once to prepare it."
    ),
    # %(when)s is a relative time in the agent's language ("2 minutes ago"), made by the
    # browser (Intl.RelativeTimeFormat).
    "trust_age": lazy_gettext("Card statuses updated %(when)s."),
    "trust_age_clock": lazy_gettext(
        "This device's clock is earlier than its trust data: check its date and time."
    ),
    "signals": lazy_gettext("Sound and vibration"),
    "signals_hint": lazy_gettext("A different signal for genuine, not valid and unreadable."),
    "privacy_note": lazy_gettext(
        "Nothing about the cards you check is recorded, on this device or on the server."
    ),
}


def _strings() -> dict[str, Any]:
    """Every page string and result message, per language: the page switches without reloading."""
    catalog: dict[str, Any] = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            texts: dict[str, Any] = {key: str(value) for key, value in PAGE_STRINGS.items()}
            texts["results"] = {code: str(msg) for code, msg in RESULT_MESSAGES.items()}
        texts["dir"] = "rtl" if lang in RTL_LANGUAGES else "ltr"
        texts["name"] = LANGUAGE_NAMES[lang]
        catalog[lang] = texts
    return catalog


def _clear_seconds() -> int:
    value = current_app.config.get("AGENT_CLEAR_SECONDS", DEFAULT_CLEAR_SECONDS)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return DEFAULT_CLEAR_SECONDS
    return max(1, seconds)


@cache
def _asset_version(root: Path) -> str:
    """A hash of the page's files: a new release gets a new service-worker cache."""
    digest = hashlib.sha256()
    files = [*(root / "static").rglob("*"), *(root / "templates").rglob("*")]
    for path in sorted([*files, root / "serviceworker.js"]):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cached_assets() -> list[str]:
    """What the service worker stores at install: every file of the page, the vendored decoder
    and its wasm included, so the camera works offline too."""
    files = sorted(
        str(path.relative_to(STATIC)).replace("\\", "/")
        for path in STATIC.rglob("*")
        if path.is_file() and path.name not in {"VENDORED.json", "LICENSE"}
    )
    return [url_for("agent.static", filename=name) for name in files]


def _security_headers(response: Response) -> Response:
    # 'wasm-unsafe-eval' lets the vendored QR decoder compile its WebAssembly; nothing else
    # is evaluated. Everything comes from this origin.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/")
def index() -> Response:
    lang = current_language()
    strings = _strings()
    page_config = {
        "clearSeconds": _clear_seconds(),
        "defaultLanguage": current_app.config.get("DEFAULT_LANGUAGE", "en"),
        "languages": list(LANGUAGES),
        "verifyUrl": "/api/v1/verify",
        "decodeImageUrl": "/api/v1/decode-image",
        "snapshotUrl": "/api/v1/trust-snapshot",
        "serviceWorkerUrl": url_for("agent.service_worker"),
        "maxImageBytes": current_app.config.get("MAX_IMAGE_BYTES"),
    }
    html = render_template(
        "agent/index.html",
        lang=lang,
        dir="rtl" if lang in RTL_LANGUAGES else "ltr",
        s=strings[lang],
        strings=strings,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        page_config=page_config,
    )
    response = Response(html, mimetype="text/html")
    # The service worker keeps its own copy for offline use; the browser's HTTP cache must not
    # keep a second one that would outlive a language or configuration change.
    response.headers["Cache-Control"] = "no-cache"
    return _security_headers(response)


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the root so its scope covers the page at ``/``."""
    source = (HERE / "serviceworker.js").read_text(encoding="utf-8")
    settings = {
        "version": _asset_version(HERE),
        "page": url_for("agent.index"),
        "assets": _cached_assets(),
        "snapshot": "/api/v1/trust-snapshot",
    }
    body = f"const SETTINGS = {json.dumps(settings)};\n{source}"
    response = Response(body, mimetype="text/javascript")
    # Browsers check for a new worker on every visit; never let a cache hide a release.
    response.headers["Cache-Control"] = "no-cache, max-age=0"
    response.headers["Service-Worker-Allowed"] = "/"
    return _security_headers(response)


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    lang = current_language()
    with force_locale(lang):
        name = str(PAGE_STRINGS["app_name"])
    doc = {
        "name": name,
        "short_name": name,
        "lang": lang,
        "dir": "rtl" if lang in RTL_LANGUAGES else "ltr",
        "start_url": url_for("agent.index"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f4f6f8",
        "theme_color": "#17324d",
        "icons": [
            {
                "src": url_for("agent.static", filename="icons/icon-192.png"),
                "sizes": "192x192",
                "type": "image/png",
            },
            {
                "src": url_for("agent.static", filename="icons/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
            },
            {
                "src": url_for("agent.static", filename="icons/icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
        ],
    }
    response = Response(json.dumps(doc, ensure_ascii=False), mimetype="application/manifest+json")
    return _security_headers(response)
