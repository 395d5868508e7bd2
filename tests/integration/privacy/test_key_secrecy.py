"""Issue 6 item 7: keys encrypted at rest, secret files mode 0600, and no key in any API
response or page. Walks every route of the app (a new route fails the test until it is walked)
with real data behind it, and scans each response for PEM markers and for the raw root, signing,
master, index and data keys in every text form a bug could print them in."""

from __future__ import annotations

import base64
import logging
import re
import stat
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cardservice.config import decode_key
from cardservice.models import ResidentKey, SigningKey, StaffUser
from cardservice.services.keys import root_key
from cardservice.services.keyseal import MAGIC

from .helpers import NOW, auth, csrf_token, dumped_bytea, enrol, issue, login, stored_bytes

PEM_MARKERS = (b"-----BEGIN", b"PRIVATE KEY", b"ENCRYPTED")
PASSWORD = "correct horse battery staple 42"


def _forms(raw: bytes) -> set[bytes]:
    """Every usual text form of a secret: raw, hex (both cases), base64 (both alphabets, with
    and without padding)."""
    b64 = base64.b64encode(raw)
    urlsafe = base64.urlsafe_b64encode(raw)
    return {
        raw,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        b64,
        b64.rstrip(b"="),
        urlsafe,
        urlsafe.rstrip(b"="),
    }


def _secrets(app: Flask, session: Any, deps: Any) -> dict[str, set[bytes]]:
    found: dict[str, set[bytes]] = {
        "root key": _forms(root_key(session, deps).private_bytes_raw()),
    }
    for key in session.scalars(select(SigningKey)):
        private = deps.key_sealer.open(key.private_key_pem)
        found[f"signing key {key.kid}"] = _forms(private.private_bytes_raw())
    for name in ("MASTER_KEY", "INDEX_KEY"):
        found[name] = _forms(decode_key(name, app.config[name])) | {app.config[name].encode()}
    for name in ("SECRET_KEY", "KEY_PASSPHRASE"):
        found[name] = {app.config[name].encode()}
    for key in session.scalars(select(ResidentKey)):
        context = b"citycard resident v1\x00" + key.resident_id.encode()
        data_key = deps.cipher.provider.unwrap(
            key.wrapped_data_key, key_id=key.master_key_id, context=context
        )
        found[f"data key of {key.resident_id}"] = _forms(data_key)
    return found


def _inflated(body: bytes) -> bytes:
    """A PDF's compressed streams, inflated, so a key drawn into a page cannot hide."""
    parts = [body]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", body, re.DOTALL):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def _scan(label: str, response: Any, secrets: dict[str, set[bytes]]) -> None:
    body = _inflated(response.get_data())
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
    for blob in (body, headers):
        for marker in PEM_MARKERS:
            assert marker not in blob, (label, marker)
        for name, forms in secrets.items():
            for form in forms:
                assert form not in blob, (label, name)


def test_keys_are_encrypted_at_rest(app, session, deps, city) -> None:
    raw = stored_bytes(app)
    postgres = str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql")
    # services/keyseal.py: AES-256-GCM under an argon2id key derived from the passphrase.
    assert city.root_private_key_pem.startswith(MAGIC)
    keys = session.scalars(select(SigningKey)).all()
    assert keys
    for key in keys:
        assert key.private_key_pem.startswith(MAGIC)
    for name, forms in _secrets(app, session, deps).items():
        if name == "INDEX_KEY" or name.startswith("data key"):
            continue  # no resident yet; the index key is checked with the others below
        for form in forms:
            assert form not in raw, name
            if postgres:
                assert dumped_bytea(form) not in raw, name
    # And no secret of the configuration sits in the database either.
    for name in ("MASTER_KEY", "INDEX_KEY", "SECRET_KEY", "KEY_PASSPHRASE"):
        assert app.config[name].encode() not in raw, name


def test_secret_files_are_private(app: Flask, make_app: Any) -> None:
    # The development secrets generated into the instance folder: the folder 0700, each 0600.
    folder = Path(app.config["INSTANCE_PATH"]) / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert {f.name for f in files} >= {"secret_key", "key_passphrase", "master_key", "index_key"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_no_key_in_any_response_or_page(
    app_without_context: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from cardservice.extensions import db
    from cardservice.services import Actor
    from cardservice.services import deps as get_deps
    from cardservice.services.keys import init_city, rotate_signing_key
    from cardservice.services.staff import create_user
    from cardservice.services.tokens import create_token

    app = app_without_context
    caplog.set_level(logging.DEBUG)
    system = Actor.system("tests")
    with app.app_context():
        session, deps = db.session, get_deps(app)
        init_city(session, deps, code="FR SXB", names={"fr": "Strasbourg"}, now=NOW, actor=system)
        create_user(
            session, username="root-admin", password=PASSWORD, role="admin", now=NOW, actor=system
        )
        token = create_token(
            session, name="admin", role="admin", now=datetime.now(UTC), actor=system
        ).token
        # Two signing keys (one retired) for the key pages.
        rotate_signing_key(session, deps, now=NOW, actor=system)
        kid = session.scalars(select(SigningKey.kid).where(SigningKey.state == "retired")).one()
        user_id = session.scalars(select(StaffUser.id)).one()
        session.remove()
    client = app.test_client()
    rid = enrol(client, token)
    doomed = enrol(client, token, display_name="To Be Erased")
    number = issue(client, token, rid)["number"]
    other = issue(client, token, doomed)["number"]
    with app.app_context():
        secrets = _secrets(app, db.session, get_deps(app))
        db.session.remove()

    seen: set[tuple[str, str]] = set()
    api = auth(token)
    staff = login(app, "root-admin", PASSWORD)
    csrf = csrf_token(staff.get("/residents/new").get_data(as_text=True))

    def call(method: str, rule: str, url: str, *, counter: bool, **kwargs: Any) -> Any:
        runner = staff if counter else client
        if counter and method != "GET":
            kwargs.setdefault("data", {}).setdefault("csrf_token", csrf)
        if not counter:
            kwargs["headers"] = api
        response = runner.open(url, method=method, **kwargs)
        assert response.status_code < 500, (method, url, response.status_code)
        _scan(f"{method} {url}", response, secrets)
        seen.add((method, rule))
        return response

    # The JSON API, every endpoint.
    call("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", counter=False)
    call("GET", "/api/v1/policy", "/api/v1/policy", counter=False)
    third = call(
        "POST",
        "/api/v1/residents",
        "/api/v1/residents",
        counter=False,
        json={
            "display_name": "Third Person",
            "birth_date": "2001-02-03",
            "documents": ["passport", "utility_bill"],
        },
    ).get_json()["id"]
    call("GET", "/api/v1/residents/<resident_id>", f"/api/v1/residents/{rid}", counter=False)
    call(
        "GET",
        "/api/v1/residents",
        "/api/v1/residents?name=Third%20Person&birth_date=2001-02-03",
        counter=False,
    )
    call(
        "POST",
        "/api/v1/residents/<resident_id>/cards",
        f"/api/v1/residents/{third}/cards",
        counter=False,
    )
    call("GET", "/api/v1/cards/<number>.pdf", f"/api/v1/cards/{number}.pdf", counter=False)
    call("GET", "/api/v1/cards/<number>", f"/api/v1/cards/{number}", counter=False)
    call(
        "POST",
        "/api/v1/cards/<number>/revoke",
        f"/api/v1/cards/{other}/revoke",
        counter=False,
        json={"reason": "lost"},
    )
    call(
        "DELETE",
        "/api/v1/residents/<resident_id>",
        f"/api/v1/residents/{doomed}",
        counter=False,
    )
    # Public documents.
    call("GET", "/.well-known/citycard/issuer", "/.well-known/citycard/issuer", counter=False)
    call(
        "GET",
        "/.well-known/citycard/status/<int(max=2147483647):list_id>",
        "/.well-known/citycard/status/0",
        counter=False,
    )
    call("GET", "/healthz", "/healthz", counter=False)
    # Every counter page, signed in as an administrator (who sees the most).
    anonymous = app.test_client()
    for method, kwargs in (("GET", {}), ("POST", {"data": {"username": "x", "password": "y"}})):
        response = anonymous.open("/login", method=method, **kwargs)
        assert response.status_code in (200, 400, 422), response.status_code
        _scan(f"{method} /login", response, secrets)
        seen.add((method, "/login"))
    for rule, url in (
        ("/", "/"),
        ("/residents/new", "/residents/new"),
        ("/residents/<resident_id>/edit", f"/residents/{rid}/edit"),
        ("/residents/<resident_id>", f"/residents/{rid}"),
        ("/cards/<number>/<any(card, a4):layout>.pdf", f"/cards/{number}/card.pdf"),
        ("/cards/<number>/<any(card, a4):layout>.pdf", f"/cards/{number}/a4.pdf"),
        ("/residents/<resident_id>/erase", f"/residents/{rid}/erase"),
        ("/audit", "/audit"),
        ("/audit/verify", "/audit/verify"),
        ("/statistics", "/statistics"),
        ("/admin/staff", "/admin/staff"),
        ("/admin/keys", "/admin/keys"),
        ("/admin/tokens", "/admin/tokens"),
        ("/admin/sessions", "/admin/sessions"),
        ("/account", "/account"),
        ("/account/sessions", "/account/sessions"),
        # Single sign-on is not configured here: both answer 404.
        ("/sso/login", "/sso/login"),
        ("/sso/callback", "/sso/callback?code=x&state=y"),
        ("/account/security", "/account/security"),
        ("/account/password", "/account/password"),
        ("/login/verify", "/login/verify"),
        ("/login/enrol", "/login/enrol"),
        ("/login/password", "/login/password"),
    ):
        call("GET", rule, url, counter=True)
    call("GET", "/", f"/?name=Zofia&birth_date=1983-11-29&number={number}", counter=True)
    for rule, url, data in (
        ("/", "/", {"number": number}),
        ("/residents/new", "/residents/new", {"display_name": ""}),
        ("/residents/<resident_id>/edit", f"/residents/{rid}/edit", {"display_name": ""}),
        ("/residents/<resident_id>/cards", f"/residents/{rid}/cards", {}),
        ("/cards/<number>/renew", f"/cards/{number}/renew", {}),
        ("/cards/<number>/printer", f"/cards/{number}/printer", {}),  # none set up: refused
        ("/cards/<number>/suspend", f"/cards/{number}/suspend", {"reason": "check"}),
        ("/cards/<number>/reinstate", f"/cards/{number}/reinstate", {}),
        ("/cards/<number>/replace", f"/cards/{number}/replace", {"reason": "lost"}),
        ("/cards/<number>/revoke", f"/cards/{number}/revoke", {"reason": "lost"}),
        ("/admin/staff", "/admin/staff", {"username": "", "password": ""}),
        (
            "/admin/staff/<int(max=2147483647):user_id>/active",
            f"/admin/staff/{user_id}/active",
            {"active": "1"},
        ),
        (
            "/admin/staff/<int(max=2147483647):user_id>/password",
            f"/admin/staff/{user_id}/password",
            {"password": "short"},
        ),
        ("/admin/keys/rotate", "/admin/keys/rotate", {"confirm": "rotate"}),
        ("/admin/keys/<kid>/revoke", f"/admin/keys/{kid}/revoke", {"kid": "wrong"}),
        ("/residents/<resident_id>/erase", f"/residents/{rid}/erase", {"confirm": "no"}),
        ("/account", "/account", {"language": "xx"}),
        (
            "/admin/tokens/<int(max=2147483647):token_id>/revoke",
            "/admin/tokens/2147483647/revoke",
            {},
        ),
        ("/account/sessions/confirm", "/account/sessions/confirm", {"password": "wrong"}),
        (
            "/account/sessions/<int(max=2147483647):session_id>/end",
            "/account/sessions/2147483647/end",
            {},
        ),
        (
            "/admin/sessions/<int(max=2147483647):session_id>/end",
            "/admin/sessions/2147483647/end",
            {},
        ),
        (
            "/admin/sessions/user/<int(max=2147483647):user_id>/end",
            f"/admin/sessions/user/{user_id}/end",
            {},
        ),
        ("/admin/sessions/end-everyone", "/admin/sessions/end-everyone", {}),
        ("/login/verify", "/login/verify", {"code": "000000"}),
        ("/login/verify/passkey", "/login/verify/passkey", {"credential": "{}"}),
        ("/login/continue", "/login/continue", {}),
        ("/login/enrol/totp", "/login/enrol/totp", {"code": "1"}),
        ("/login/enrol/passkey", "/login/enrol/passkey", {"credential": "{}"}),
        ("/login/password", "/login/password", {}),
        ("/account/password", "/account/password", {"current_password": "x"}),
        ("/account/security/recovery-codes", "/account/security/recovery-codes", {}),
        ("/account/security/totp/remove", "/account/security/totp/remove", {}),
        (
            "/account/security/passkeys/<int(max=2147483647):credential>/remove",
            "/account/security/passkeys/2147483647/remove",
            {},
        ),
        # Last: these two end the walker's session.
        ("/account/sessions/end-all", "/account/sessions/end-all", {}),
        ("/logout", "/logout", {}),
    ):
        call("POST", rule, url, counter=True, data=data, follow_redirects=True)

    # Every route of the app was walked (static files aside).
    expected = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ("static", "counter.static")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert expected - seen == set()
    # Nor did any key reach a log record on the way.
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records).encode()
    for marker in PEM_MARKERS[:2]:
        assert marker not in logged
    for name, forms in secrets.items():
        for form in forms:
            assert form not in logged, name
