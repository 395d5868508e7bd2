"""API token rules: scopes (which endpoints a token may call), expiry, the per-token rate limit.

A token carries a role (the most it may ever do) and scopes (what it is for). An endpoint is
reachable when the role allows it AND the token holds the endpoint's scope. Scopes are keyed by
method and URL pattern, the API's contract, so code moving between modules changes nothing; an
API route missing from SCOPES is refused to every token (fail closed), and a test checks that
every route is listed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from .errors import ValidationError
from .staff import role_allows

#: scope -> (lowest role that may hold it, what it allows, for the admin page and the CLI).
SCOPE_INFO: dict[str, tuple[str, LazyString]] = {
    "policy:read": ("clerk", _l("read the document policy")),
    "residents:read": ("clerk", _l("read a resident's record")),
    "residents:write": ("clerk", _l("enrol residents")),
    "residents:erase": ("supervisor", _l("erase residents")),
    "cards:read": ("clerk", _l("look cards up by number")),
    "cards:issue": ("clerk", _l("issue cards")),
    "cards:print": ("clerk", _l("print cards")),
    "cards:revoke": ("supervisor", _l("revoke cards")),
}

#: (method, URL rule) -> scope. GET covers HEAD.
SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/policy"): "policy:read",
    ("POST", "/api/v1/residents"): "residents:write",
    ("GET", "/api/v1/residents"): "residents:read",
    ("GET", "/api/v1/residents/<resident_id>"): "residents:read",
    ("DELETE", "/api/v1/residents/<resident_id>"): "residents:erase",
    ("POST", "/api/v1/residents/<resident_id>/cards"): "cards:issue",
    ("GET", "/api/v1/cards/<number>.pdf"): "cards:print",
    ("GET", "/api/v1/cards/<number>"): "cards:read",
    ("POST", "/api/v1/cards/<number>/revoke"): "cards:revoke",
}


def scopes_for_role(role: str) -> tuple[str, ...]:
    """Every scope a token of this role may hold (the default when none is asked for)."""
    return tuple(
        scope for scope, (lowest, _text) in SCOPE_INFO.items() if role_allows(role, lowest)
    )


def parse_scopes(requested: str | None, role: str) -> tuple[str, ...]:
    """Scopes from a space- or comma-separated text; empty: all of the role's."""
    allowed = scopes_for_role(role)
    if not requested or not requested.strip():
        return allowed
    items = tuple(dict.fromkeys(requested.replace(",", " ").split()))
    unknown = [item for item in items if item not in SCOPE_INFO]
    if unknown:
        raise ValidationError(
            {
                "scopes": _l(
                    "Unknown scopes: %(names)s. Known: %(known)s.",
                    names=", ".join(unknown)[:200],
                    known=", ".join(SCOPE_INFO),
                )
            }
        )
    beyond = [item for item in items if item not in allowed]
    if beyond:
        raise ValidationError(
            {"scopes": _l("The role does not allow: %(names)s.", names=", ".join(beyond))}
        )
    return items


def expiry(now: datetime, days: int | None, default_days: int) -> datetime:
    chosen = default_days if days is None else days
    if not isinstance(chosen, int) or not 1 <= chosen <= 366:
        raise ValidationError({"days": _l("A token lasts from 1 to 366 days.")})
    return now + timedelta(days=chosen)


def required_scope(method: str, rule: str | None) -> str | None:
    if rule is None:
        return None
    return SCOPES.get(("GET" if method == "HEAD" else method, rule))
