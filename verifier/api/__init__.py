"""The verifier's JSON API, /api/v1 (docs/interfaces.md).

Views stay thin: check the request's type and size before reading it, parse, call the
verification service, shape the answer. Answers that carry a holder's data are never cached.
"""

from __future__ import annotations

import json as _stdjson
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from ..i18n import current_language, language_of, result_message
from ..verification import Outcome, verify_text
from .images import ImageProblem, decode_qr
from .openapi import openapi_document
from .problems import ApiProblem
from .ratelimit import api_limit, limiter
from .snapshot import SnapshotCache, rfc3339

bp = Blueprint("api", __name__, url_prefix="/api/v1")
limiter.limit(api_limit)(bp)

JSON_TYPES = frozenset({"application/json"})
IMAGE_UPLOAD_TYPE = "multipart/form-data"


def _state() -> Any:
    return current_app.extensions["verifier"]


def _now() -> datetime:
    now: datetime = current_app.config["CLOCK"]()
    return now


def answer(outcome: Outcome, language: str | None = None) -> dict[str, Any]:
    """The section 6 answer: exactly these keys, unknown facts as null."""
    language = language or current_language()
    issuer = None
    if outcome.issuer_code is not None:
        names = outcome.issuer_names or {}
        default = current_app.config["DEFAULT_LANGUAGE"]
        issuer = {"code": outcome.issuer_code, "name": _issuer_name(names, language, default)}
    card = None
    if outcome.card_number is not None:
        card = {"number": outcome.card_number, "expires": rfc3339(outcome.expires_at)}
    holder = None
    if outcome.holder_name is not None:
        birth = outcome.birth_date.isoformat() if outcome.birth_date is not None else None
        holder = {"name": outcome.holder_name, "birth_date": birth}
    return {
        "result": outcome.result,
        "valid": outcome.valid,
        "issuer": issuer,
        "card": card,
        "holder": holder,
        "status_checked_at": rfc3339(outcome.status_checked_at),
        "message": result_message(outcome.result, language),
    }


def _issuer_name(names: Mapping[str, str], language: str, default: str) -> str:
    """The city's name in the agent's language, else the instance's, else English, else any."""
    for candidate in (language, default, "en"):
        if candidate in names:
            return names[candidate]
    return next(iter(names.values()), "")


# One encoder for every answer: json.dumps with non-default options builds a new one per call.
_ENCODE_ANSWER = _stdjson.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _verify(text: str) -> Response:
    # The hot path: resolve the context-local proxies once (each access costs a lookup).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    state = app.extensions["verifier"]
    outcome = verify_text(
        text,
        index=state.trust.current(),
        now=config["CLOCK"](),
        max_status_age=timedelta(seconds=config["MAX_STATUS_AGE"]),
    )
    state.counters.add(outcome.result)
    language = language_of(request._get_current_object(), config["DEFAULT_LANGUAGE"])  # type: ignore[attr-defined]
    body = _ENCODE_ANSWER(answer(outcome, language))
    response: Response = app.response_class(body, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_type(accepted: frozenset[str] | str) -> None:
    accepted_set = frozenset((accepted,)) if isinstance(accepted, str) else accepted
    if request.mimetype not in accepted_set:
        raise ApiProblem(
            415,
            detail=gettext("Send the request as %(type)s.", type=" or ".join(sorted(accepted_set))),
        )


def _limit_body(limit: int) -> None:
    """Refuse by the declared length before reading anything."""
    length = request.content_length
    if length is not None and length > limit:
        raise ApiProblem(413, detail=gettext("The limit is %(limit)d bytes.", limit=limit))
    # A chunked body has no declared length: Werkzeug stops reading one byte past this, so the
    # caller can tell "exactly the limit" from "more than the limit" without reading it all.
    request.max_content_length = limit + 1


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, detail=gettext("The limit is %(limit)d bytes.", limit=limit))


@bp.post("/verify")
def verify() -> Response:
    _require_type(JSON_TYPES)
    limit = current_app.config["MAX_VERIFY_BYTES"]
    _limit_body(limit)
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise _too_large(limit)
    try:
        body = _stdjson.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiProblem(400, "invalid_json", gettext("The body is not valid JSON.")) from None
    if not isinstance(body, dict) or len(body) != 1 or not isinstance(body.get("qr"), str):
        raise ApiProblem(
            400,
            "invalid_body",
            gettext('The body must be a JSON object with one text member, "qr".'),
        )
    return _verify(body["qr"])


@bp.post("/decode-image")
def decode_image() -> Response:
    _require_type(IMAGE_UPLOAD_TYPE)
    limit = current_app.config["MAX_IMAGE_BYTES"]
    if request.content_length is None:
        # The multipart parser cannot tell a truncated chunked upload from a damaged one;
        # browsers always send a length with a form.
        raise ApiProblem(411, "length_required", gettext("Send the upload with a Content-Length."))
    # The multipart envelope adds a little around the file itself.
    _limit_body(limit + 16 * 1024)
    request.max_form_parts = 8
    try:
        files = list(request.files.values())
    except RequestEntityTooLarge:
        # The size was checked above, so Werkzeug refused the number of form parts: a
        # malformed form (400), not a large one.
        raise ApiProblem(400, "no_image", gettext("Send exactly one image file.")) from None
    if len(files) != 1:
        raise ApiProblem(400, "no_image", gettext("Send exactly one image file."))
    data = files[0].read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise ApiProblem(400, "no_image", gettext("Send exactly one image file."))
    try:
        text = decode_qr(
            data,
            max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
            max_decode_bytes=current_app.config["MAX_IMAGE_DECODE_MB"] * 2**20,
        )
    except ImageProblem as exc:
        raise ApiProblem(422, exc.code, _image_problem_detail(exc.code)) from None
    return _verify(text)


def _image_problem_detail(code: str) -> str:
    if code == "no_code_found":
        return str(gettext("No card code was found in the photo. Try again, closer and in focus."))
    if code == "image_too_large":
        return str(gettext("The photo has too many pixels. Send a smaller photo."))
    return str(gettext("The file is not a readable JPEG, PNG, WebP, GIF or BMP image."))


@bp.get("/trust-snapshot")
def trust_snapshot() -> Response:
    state = _state()
    index = state.trust.current()
    rendered = state.snapshots.get(
        index,
        generation=state.trust.generation,
        now=_now(),
        max_status_age=current_app.config["MAX_STATUS_AGE"],
    )
    if request.if_none_match.contains(rendered.etag):
        response = current_app.response_class(status=304)
    else:
        response = current_app.response_class(rendered.body, mimetype="application/json")
    response.set_etag(rendered.etag)
    # Public data, but the page must revalidate so a revocation reaches it at the next visit.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/ping")
def ping() -> Response:
    """A trivial JSON endpoint: the benchmark's baseline for the cost of the stack itself."""
    return jsonify({"status": "ok"})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


__all__ = ["SnapshotCache", "answer", "bp"]
