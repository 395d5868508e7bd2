"""The schemas of the /api/v1 OpenAPI document: the bodies its operations send and answer.

Kept apart from the paths (``openapi.py``) so each module reads as one part of the contract.
"""

from __future__ import annotations

from typing import Any


def security_schemes() -> dict[str, Any]:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A token from `cardservice tokens create NAME --role ROLE "
                "[--scopes ...] [--days N]`. Tokens expire (90 days by default), "
                "carry scopes (each endpoint's is in x-required-scope) and are "
                "rate-limited one by one."
            ),
        }
    }


def schemas() -> dict[str, Any]:
    """A fresh copy on every call: the document built from it is the caller's to change."""
    card_schema = {
        "type": "object",
        "required": ["number", "status", "issued_at", "expires", "kid"],
        "properties": {
            "number": {"type": "string", "pattern": "^[0-9A-Z]{4}-[0-9A-Z]{3}$"},
            "status": {"enum": ["valid", "expired", "revoked", "suspended"]},
            "status_reason": {"type": ["string", "null"]},
            "issued_at": {"type": "string", "format": "date-time"},
            "expires": {"type": "string", "format": "date"},
            "resident_id": {
                "type": ["string", "null"],
                "description": "null once the holder's data was erased",
            },
            "kid": {"type": "string", "description": "signing key of the latest printed token"},
        },
    }
    return {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "code"],
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string", "description": "stable machine code"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "field name -> message",
                },
            },
        },
        "Policy": {
            "type": "object",
            "properties": {
                "documents": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "points", "kind"],
                        "properties": {
                            "id": {"type": "string"},
                            "points": {"type": "integer"},
                            "kind": {"enum": ["identity", "residence"]},
                            "name": {"type": "string"},
                        },
                    },
                },
                "minimums": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                },
                "birth_date": {"enum": ["required", "optional"]},
                "minimum_age": {"type": "integer"},
                "languages": {"type": "array", "items": {"type": "string"}},
                "validity_years": {"type": "integer"},
            },
        },
        "Enrolment": {
            "type": "object",
            "required": ["display_name", "documents"],
            "additionalProperties": False,
            "properties": {
                "display_name": {
                    "type": "string",
                    "description": "Chosen display name, as the card format's name "
                    "rule allows it (docs/card-format.md section 3.2: at most 100 UTF-8 "
                    "bytes; no control or format character but ZWNJ/ZWJ, no markup "
                    "symbol, at most four combining marks in a row), in a script the "
                    "card's fonts draw; stored in NFC",
                },
                "birth_date": {"type": ["string", "null"], "format": "date"},
                "gender_marker": {"enum": ["F", "M", "X", None]},
                "address": {"type": ["string", "null"]},
                "preferred_language": {"type": "string"},
                "photo": {
                    "type": ["string", "null"],
                    "contentEncoding": "base64",
                    "contentMediaType": "image/jpeg",
                    "description": "JPEG or PNG; re-encoded, resized and stripped",
                },
                "documents": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Policy category ids seen and handed back",
                },
                "confirm_duplicate": {
                    "type": "boolean",
                    "default": False,
                    "description": (
                        "Enrol even though residents with the same name and birth date "
                        "exist (after a 409 `possible_duplicate`)"
                    ),
                },
            },
        },
        "SearchResults": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "exact_name", "created_at", "cards"],
                        "properties": {
                            "id": {"type": "string"},
                            "exact_name": {
                                "type": "boolean",
                                "description": "the stored name is exactly the one typed",
                            },
                            "created_at": {"type": "string", "format": "date-time"},
                            "cards": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Card"},
                            },
                        },
                    },
                }
            },
        },
        "Enrolled": {
            "type": "object",
            "required": ["id", "points", "minimums", "possible_duplicate"],
            "properties": {
                "id": {"type": "string"},
                "points": {"type": "object", "additionalProperties": {"type": "integer"}},
                "minimums": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                },
                "possible_duplicate": {"type": "boolean"},
                "message": {"type": "string"},
            },
        },
        "Resident": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "display_name": {"type": "string"},
                "birth_date": {"type": ["string", "null"], "format": "date"},
                "gender_marker": {"enum": ["F", "M", "X", None]},
                "address": {"type": ["string", "null"]},
                "preferred_language": {"type": "string"},
                "photo": {"type": ["string", "null"], "contentEncoding": "base64"},
                "created_at": {"type": "string", "format": "date-time"},
                "cards": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
            },
        },
        "Erased": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "erased": {"const": True},
                "revoked_cards": {"type": "array", "items": {"type": "string"}},
            },
        },
        "IssuedCard": {
            "type": "object",
            "required": ["number", "expires", "qr"],
            "properties": {
                "number": {"type": "string"},
                "expires": {"type": "string", "format": "date"},
                "qr": {"type": "string", "description": "Signed token, MC1:..."},
                "issued_at": {"type": "string", "format": "date-time"},
            },
        },
        "Card": card_schema,
    }
