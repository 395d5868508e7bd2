"""The schemas of the verifier's /api/v1 OpenAPI document: what its operations answer.

Kept apart from the paths (``openapi.py``) so each module reads as one part of the contract.
"""

from __future__ import annotations

from typing import Any

from ..verification import RESULTS

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "contentEncoding": "base64url"}
_NAMES = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "by language code",
}


def schemas() -> dict[str, Any]:
    return {
        "VerifyRequest": {
            "type": "object",
            "properties": {"qr": {"type": "string", "description": "The QR code's text, MC1:..."}},
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
                        "networks": {
                            "type": "array",
                            "description": "the networks that vouch for the issuer",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "code": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                                "required": ["code", "name"],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["code", "name", "networks"],
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
                "networks": {
                    "type": "array",
                    "description": "the networks pinned, by their last good directory",
                    "items": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "name": _NAMES,
                            "serial": {"type": "integer", "minimum": 0},
                            "issued_at": _TIME,
                            "expires_at": _TIME,
                            "members": {"type": "integer", "minimum": 0},
                        },
                        "required": [
                            "code",
                            "name",
                            "serial",
                            "issued_at",
                            "expires_at",
                            "members",
                        ],
                        "additionalProperties": False,
                    },
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
                "networks",
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
                "direct": {
                    "type": "boolean",
                    "description": "pinned here (false: trusted only through networks)",
                },
                "networks": {
                    "type": "array",
                    "description": "what each pinned network says of this city",
                    "items": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "name": _NAMES,
                            "state": {"enum": ["active", "suspended"]},
                            "expires_at": _TIME,
                        },
                        "required": ["code", "name", "state", "expires_at"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": [
                "code",
                "name",
                "keys",
                "status_list_size",
                "status_lists",
                "direct",
                "networks",
            ],
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
    }
