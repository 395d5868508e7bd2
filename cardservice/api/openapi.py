"""The OpenAPI 3.1 description of /api/v1: its paths, kept next to the views they describe.

The schemas of the bodies are in openapi_schemas.py.
"""

from __future__ import annotations

from typing import Any

from ..services.cards import REVOKE_REASONS
from .openapi_schemas import schemas, security_schemes


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
    "401": _problem("Missing, invalid, expired or revoked API token."),
    "403": _problem(
        "The token's role or scopes do not allow this endpoint (code forbidden or "
        "insufficient_scope)."
    ),
    "429": _problem("Too many requests with this token (Retry-After says when to retry)."),
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
    document: dict[str, Any] = {
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
                "get": {
                    "summary": "Find residents by name and birth date (for integrations)",
                    "description": (
                        "The name is matched folded: case, accents, apostrophes, hyphens and "
                        "spaces do not matter (`zoe ngoc lam-dubois` finds `Zoé Ngọc "
                        "Lâm-Dubois`); scripts without case or accents match as written. The "
                        "birth date must match exactly (omit it for residents enrolled without "
                        "one). Results whose stored name is exactly the one typed come first "
                        "(`exact_name`). Each search is written to the audit log "
                        "(`resident.search`, with the number of results, never the query) and "
                        "is rate-limited per token (`CARDSERVICE_RATELIMIT_SEARCH`, default 30 "
                        "per minute)."
                    ),
                    "x-required-role": "clerk",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 400},
                        },
                        {
                            "name": "birth_date",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "format": "date"},
                        },
                    ],
                    "responses": {
                        "200": _json("The residents found (maybe none)", "SearchResults"),
                        "422": _problem("No name, or a malformed birth date."),
                        "429": _problem("Too many searches with this token: wait a minute."),
                        "503": _problem("`audit_unavailable`: the search could not be audited."),
                        **_AUTH_ERRORS,
                    },
                },
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
                        "409": _problem(
                            "`possible_duplicate`: residents with the same name (folded) and "
                            "birth date exist; their ids are in `candidates`. Nothing was "
                            "written. Check them, then send the enrolment again with "
                            "`confirm_duplicate: true` if it is another person."
                        ),
                        "413": _problem("The request or the photo is too large."),
                        "415": _problem("The body is not JSON."),
                        "422": _problem(
                            "Invalid fields (`errors` maps field to message), an unusable "
                            "photo, or too few document points (`points`, `minimums`)."
                        ),
                        **_AUTH_ERRORS,
                    },
                },
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
                        "404": _problem(
                            "No such card, or one this token may not see (an erased "
                            "resident's): the same answer. Every look-up is audited."
                        ),
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
            "securitySchemes": security_schemes(),
            "schemas": schemas(),
        },
    }
    _add_scopes(document["paths"])
    return document


def _add_scopes(paths: dict[str, Any]) -> None:
    """Each operation's token scope (services/tokenscopes.SCOPES, keyed by Flask's URL rules)."""
    from ..services.tokenscopes import required_scope

    for path, item in paths.items():
        rule = "/api/v1" + path.replace("{", "<").replace("}", ">")
        for method, operation in item.items():
            if isinstance(operation, dict) and "x-required-role" in operation:
                operation["x-required-scope"] = required_scope(method.upper(), rule)
