"""What the API checks on a token after its role: the endpoint's scope and the token's rate.

Kept out of the endpoint modules so each endpoint stays declared by its role alone; the scope
comes from services/tokenscopes.SCOPES by method and URL pattern.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from ..models import ApiToken
from ..services.tokenscopes import required_scope
from ..tokenlimit import retry_after
from .problems import ApiProblem


def check_scope_and_rate(record: ApiToken) -> None:
    rule = request.url_rule.rule if request.url_rule is not None else None
    scope = required_scope(request.method, rule)
    if scope is None or scope not in record.scopes.split():
        # RFC 6750 3.1: the token is valid but not for this; no hint about any resource.
        raise ApiProblem(403, "insufficient_scope", _("This API token may not call this endpoint."))
    wait = retry_after(record.id)
    if wait is not None:
        raise ApiProblem(
            429,
            "rate_limited",
            _("Too many requests with this API token: slow down."),
            retry_after=wait,
        )
