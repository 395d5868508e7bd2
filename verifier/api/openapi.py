"""The OpenAPI 3.1 document of /api/v1 (its paths here, its schemas in openapi_schemas.py),
written by hand next to the views it describes.

Kept as data (not generated from code) so the contract is reviewed as a contract; the
integration tests run schemathesis against it, so it cannot drift from the views silently.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .openapi_schemas import schemas


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


_RATE_LIMITED = _problem("Too many requests from this client; see Retry-After.")


@cache
def openapi_document() -> dict[str, Any]:
    verification = {
        "description": "A verdict. Every string sent as qr ends in exactly one result code.",
        "headers": {"Cache-Control": {"schema": {"const": "no-store"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Verification"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "City card verifier API",
            "version": "1.0.0",
            "description": (
                "Verifies municipal citizenship cards offline against the verifier's trust "
                "store of pinned partner cities. Verifying never contacts the issuing city, "
                "and the verifier records no card number, name or token. Human-readable texts "
                "follow Accept-Language (fr, en, es, pt, ar) or the lang query parameter."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/verify": {
                "post": {
                    "operationId": "verifyCard",
                    "summary": "Verify the text of a card's QR code",
                    "parameters": [{"$ref": "#/components/parameters/Lang"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/VerifyRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": verification,
                        "400": _problem("The body is not a JSON object with one text member qr."),
                        "413": _problem("The body is larger than the limit (8 KiB by default)."),
                        "415": _problem("The body is not application/json."),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/decode-image": {
                "post": {
                    "operationId": "decodeImage",
                    "summary": "Decode a photo of a card on the server, then verify it",
                    "description": (
                        "One image file (JPEG, PNG, WebP, GIF or BMP) in a multipart form, under "
                        "any field name. The answer is the same as /verify's."
                    ),
                    "parameters": [{"$ref": "#/components/parameters/Lang"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "image": {"type": "string", "contentMediaType": "image/*"}
                                    },
                                    "required": ["image"],
                                },
                                "encoding": {"image": {"contentType": "image/*"}},
                            }
                        },
                    },
                    "responses": {
                        "200": verification,
                        "400": _problem("Not exactly one file in the form."),
                        "411": _problem("No Content-Length (a chunked upload)."),
                        "413": _problem("The upload is larger than the limit (12 MiB by default)."),
                        "415": _problem("The body is not multipart/form-data."),
                        "422": _problem(
                            "The file is not a readable image (code unreadable_image), has too "
                            "many pixels (image_too_large), or holds no QR code (no_code_found)."
                        ),
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/trust-snapshot": {
                "get": {
                    "operationId": "trustSnapshot",
                    "summary": "The verified public keys and status lists, for offline use",
                    "description": (
                        "What the agent page caches to verify with no network. A status list "
                        "whose issued_at is older than max_status_age_seconds, or whose "
                        "expires_at has passed, gives status_unknown. Revalidate with ETag."
                    ),
                    "responses": {
                        "200": {
                            "description": "The snapshot.",
                            "headers": {"ETag": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/TrustSnapshot"}
                                }
                            },
                        },
                        "304": {"description": "Unchanged since the ETag sent in If-None-Match."},
                        "429": _RATE_LIMITED,
                    },
                }
            },
            "/ping": {
                "get": {
                    "operationId": "ping",
                    "summary": "A trivial JSON answer (load-test baseline)",
                    "responses": {
                        "200": {
                            "description": "Always ok.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"status": {"const": "ok"}},
                                        "required": ["status"],
                                        "additionalProperties": False,
                                    }
                                }
                            },
                        },
                        "429": _RATE_LIMITED,
                    },
                }
            },
        },
        "components": {
            "parameters": {
                "Lang": {
                    "name": "lang",
                    "in": "query",
                    "required": False,
                    "description": (
                        "Language of message (fr, en, es, pt or ar); overrides "
                        "Accept-Language. Any other value is ignored, not refused: an agent "
                        "must get a verdict whatever its language preference."
                    ),
                    "schema": {"type": "string", "examples": ["fr", "en", "es", "pt", "ar"]},
                }
            },
            "schemas": schemas(),
        },
    }
