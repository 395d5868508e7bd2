"""The OpenAPI 3.1 document of /api/v1, written by hand next to the views it describes.

Kept as data (not generated from code) so the contract is reviewed as a contract; the
integration tests run schemathesis against it, so it cannot drift from the views silently.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..verification import RESULTS

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "contentEncoding": "base64url"}


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
            "schemas": {
                "VerifyRequest": {
                    "type": "object",
                    "properties": {
                        "qr": {"type": "string", "description": "The QR code's text, MC1:..."}
                    },
                    "required": ["qr"],
                    "additionalProperties": False,
                },
                "Verification": {
                    "type": "object",
                    "properties": {
                        "result": {"enum": list(RESULTS)},
                        "valid": {"type": "boolean", "description": "true only for valid"},
                        "issuer": {
                            "type": ["object", "null"],
                            "properties": {
                                "code": {"type": "string", "description": "UN/LOCODE"},
                                "name": {"type": "string"},
                            },
                            "required": ["code", "name"],
                            "additionalProperties": False,
                        },
                        "card": {
                            "type": ["object", "null"],
                            "properties": {
                                "number": {"type": "string"},
                                "expires": _TIME,
                            },
                            "required": ["number", "expires"],
                            "additionalProperties": False,
                        },
                        "holder": {
                            "type": ["object", "null"],
                            "properties": {
                                "name": {"type": "string"},
                                "birth_date": {"type": ["string", "null"], "format": "date"},
                            },
                            "required": ["name", "birth_date"],
                            "additionalProperties": False,
                        },
                        "status_checked_at": {
                            **_NULLABLE_TIME,
                            "description": "issued-at time of the status list consulted",
                        },
                        "message": {"type": "string", "description": "in the agent's language"},
                    },
                    "required": [
                        "result",
                        "valid",
                        "issuer",
                        "card",
                        "holder",
                        "status_checked_at",
                        "message",
                    ],
                    "additionalProperties": False,
                },
                "TrustSnapshot": {
                    "type": "object",
                    "properties": {
                        "issuers": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/SnapshotIssuer"},
                        },
                        "max_status_age_seconds": {"type": "integer", "minimum": 1},
                        "generated_at": _TIME,
                        "trust_fetched_at": {
                            **_NULLABLE_TIME,
                            "description": (
                                "The server's latest fetch of this data. A device whose clock "
                                "reads earlier (beyond 5 minutes of skew) must not judge expiry "
                                "or staleness: its verdict is clock_in_doubt."
                            ),
                        },
                    },
                    "required": [
                        "issuers",
                        "max_status_age_seconds",
                        "generated_at",
                        "trust_fetched_at",
                    ],
                    "additionalProperties": False,
                },
                "SnapshotIssuer": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "name": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "by language code",
                        },
                        "keys": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "kid": _B64URL,
                                    "public_key": {
                                        **_B64URL,
                                        "description": "raw Ed25519, 32 bytes",
                                    },
                                    "state": {"enum": ["active", "retired", "revoked"]},
                                    "retired_at": _NULLABLE_TIME,
                                    "not_before": _NULLABLE_TIME,
                                    "not_after": _NULLABLE_TIME,
                                },
                                "required": [
                                    "kid",
                                    "public_key",
                                    "state",
                                    "retired_at",
                                    "not_before",
                                    "not_after",
                                ],
                                "additionalProperties": False,
                            },
                        },
                        "status_list_size": {"type": "integer", "minimum": 1},
                        "status_lists": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer", "minimum": 0},
                                    "bits": {"enum": [1, 2, 4, 8]},
                                    "lst": {**_B64URL, "description": "zlib-compressed list"},
                                    "issued_at": _TIME,
                                    "expires_at": _NULLABLE_TIME,
                                    "fetched_at": _NULLABLE_TIME,
                                },
                                "required": [
                                    "id",
                                    "bits",
                                    "lst",
                                    "issued_at",
                                    "expires_at",
                                    "fetched_at",
                                ],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["code", "name", "keys", "status_list_size", "status_lists"],
                    "additionalProperties": False,
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string", "description": "stable machine code"},
                        "detail": {"type": "string"},
                    },
                    "required": ["type", "title", "status", "code"],
                },
            },
        },
    }
