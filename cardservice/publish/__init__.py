"""Public documents for partner cities' verifiers: no login, cacheable, signed.

GET /.well-known/citycard/issuer        root-signed issuer metadata (application/cose)
GET /.well-known/citycard/status/<id>   Status List Token (application/statuslist+cwt)
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..extensions import db
from ..services import deps, utcnow
from ..services.publication import PublishedDocument, issuer_metadata, status_list_token

bp = Blueprint("publish", __name__)

METADATA_MEDIA_TYPE = "application/cose"
STATUS_LIST_MEDIA_TYPE = "application/statuslist+cwt"


def _serve(document: PublishedDocument, media_type: str) -> Response:
    now = utcnow()
    etag = document.etag
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": f"public, max-age={document.max_age(now)}",
        # Partners fetch these from anywhere, including browser-based verifiers.
        "Access-Control-Allow-Origin": "*",
        "Last-Modified": document.issued_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    return Response(document.body, mimetype=media_type, headers=headers)


@bp.get("/.well-known/citycard/issuer")
def metadata() -> Response:
    return _serve(issuer_metadata(db.session, deps(), now=utcnow()), METADATA_MEDIA_TYPE)


# Status list ids are database integers (32-bit on PostgreSQL): a larger number names no list,
# and must be a 404 from routing rather than an overflow error from the database.
MAX_LIST_ID = 2**31 - 1


@bp.get(f"/.well-known/citycard/status/<int(max={MAX_LIST_ID}):list_id>")
def status_list(list_id: int) -> Response:
    return _serve(
        status_list_token(db.session, deps(), list_id, now=utcnow()), STATUS_LIST_MEDIA_TYPE
    )
