"""The issuance JSON API, /api/v1 (docs/interfaces.md).

Bearer tokens (`cardservice tokens create`), a role per endpoint, errors as RFC 9457
application/problem+json. Views parse input, call one service, and map the result or the domain
error; the OpenAPI 3.1 document at /api/v1/openapi.json describes every endpoint. One module per
area (residents, cards, documents) over base (authentication, body, JSON shapes) and errors.
"""

from __future__ import annotations

from . import cards, documents, errors, residents  # noqa: F401  (registers the routes on bp)
from .blueprint import bp

__all__ = ["bp"]
