"""The OpenAPI 3.1 description of /api/v1 (kept next to the views it describes)."""

from __future__ import annotations

from typing import Any

from ..services.cards import REVOKE_REASONS


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(description: str, schema_ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


_AUTH_ERRORS = {
    "401": _problem("Missing, invalid or revoked API token."),
    "403": _problem("The token's role does not allow this endpoint."),
}
_RESIDENT_ID = {
    "name": "resident_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
_CARD_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "Card number XXXX-XXX (case, dash and O/I/L typos are tolerated).",
    "schema": {"type": "string", "maxLength": 20},
}


def openapi_document(public_url: str) -> dict[str, Any]:
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
        "openapi": "3.1.0",
        "info": {
            "title": "Citizenship card issuance API",
            "version": "1.0.0",
            "description": (
                "Enrol residents and issue, print and revoke their cards. Resident data is "
                "minimal by design: no nationality, residency status, document number or "
                "document image is accepted anywhere. Errors are RFC 9457 problem details "
                "with a stable `code`. Any endpoint may answer 503 `database_unavailable` with "
                "`Retry-After` while the database is briefly unreachable; a change that got it "
                "was not made unless the connection was lost during its commit (see the "
                "operations guide)."
            ),
        },
        "servers": [{"url": f"{public_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
            "/policy": {
                "get": {
                    "summary": "Document categories, points and minimums of the city's policy",
                    "x-required-role": "clerk",
                    "responses": {"200": _json("The policy", "Policy"), **_AUTH_ERRORS},
                }
            },
            "/residents": {
                "post": {
                    "summary": "Enrol a resident (documents are checked and handed back)",
                    "x-required-role": "clerk",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Enrolment"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("Enrolled", "Enrolled"),
                        "400": _problem("The body is not a JSON object."),
                        "413": _problem("The request or the photo is too large."),
                        "415": _problem("The body is not JSON."),
                        "422": _problem(
                            "Invalid fields (`errors` maps field to message), an unusable "
                            "photo, or too few document points (`points`, `minimums`)."
                        ),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/residents/{resident_id}": {
                "parameters": [_RESIDENT_ID],
                "get": {
                    "summary": "A resident's data and cards",
                    "description": (
                        "Every successful read is written to the audit log (`resident.view`: "
                        "the token and the resident id, no personal data)."
                    ),
                    "x-required-role": "clerk",
                    "responses": {
                        "200": _json("The resident", "Resident"),
                        "404": _problem("No such resident (or erased)."),
                        "503": _problem(
                            "`audit_unavailable`: the read could not be audited, so nothing is "
                            "returned; or `master_key_unavailable`."
                        ),
                        **_AUTH_ERRORS,
                    },
                },
                "delete": {
                    "summary": "Erase on request: revokes the cards and destroys the data key",
                    "x-required-role": "supervisor",
                    "responses": {
                        "200": _json("Erased", "Erased"),
                        "404": _problem("No such resident."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/residents/{resident_id}/cards": {
                "parameters": [_RESIDENT_ID],
                "post": {
                    "summary": "Issue a card to a resident without a valid card",
                    "x-required-role": "clerk",
                    "responses": {
                        "201": _json("Issued", "IssuedCard"),
                        "404": _problem("No such resident."),
                        "409": _problem("The resident already has a valid card."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/cards/{number}": {
                "parameters": [_CARD_NUMBER],
                "get": {
                    "summary": "A card's state",
                    "x-required-role": "clerk",
                    "responses": {
                        "200": _json("The card", "Card"),
                        "404": _problem("No such card."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/cards/{number}.pdf": {
                "parameters": [
                    _CARD_NUMBER,
                    {
                        "name": "layout",
                        "in": "query",
                        "schema": {"enum": ["card", "a4"], "default": "card"},
                    },
                ],
                "get": {
                    "summary": "Print the card (CR80 with bleed, or an A4 sheet), freshly signed",
                    "x-required-role": "clerk",
                    "responses": {
                        "200": {
                            "description": "The PDF",
                            "content": {"application/pdf": {"schema": {"type": "string"}}},
                        },
                        "404": _problem("No such card."),
                        "409": _problem("Revoked, suspended, expired or erased holder."),
                        "422": _problem("Unknown layout."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/cards/{number}/revoke": {
                "parameters": [_CARD_NUMBER],
                "post": {
                    "summary": "Revoke a card for good; published in the status list at once",
                    "x-required-role": "supervisor",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["reason"],
                                    "properties": {"reason": {"enum": list(REVOKE_REASONS)}},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Revoked", "Card"),
                        "404": _problem("No such card."),
                        "409": _problem("Already revoked."),
                        "422": _problem("Missing or unknown reason."),
                        **_AUTH_ERRORS,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `cardservice tokens create NAME --role ROLE`.",
                }
            },
            "schemas": {
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
            },
        },
    }
