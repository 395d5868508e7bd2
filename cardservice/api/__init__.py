"""The issuance JSON API, /api/v1 (DESIGN.md section 6).

Bearer tokens (`cardservice tokens create`), a role per endpoint, errors as RFC 9457
application/problem+json. Views parse input, call one service, and map the result or the domain
error; the OpenAPI 3.1 document at /api/v1/openapi.json describes every endpoint. One module per
area (residents, cards, documents) over base (authentication, body, JSON shapes) and errors.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import cards, documents, errors, residents  # noqa: E402,F401  (registers the routes on bp)

__all__ = ["bp"]
