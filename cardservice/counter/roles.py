"""The counter's role matrix: who may open which page.

Roles are ordered: a supervisor can do everything a clerk can, an administrator everything a
supervisor can. Each view declares the lowest role it needs with ``@requires(...)``; the
decorator also records it on the view so the role-matrix test can read what every route
demands and compare it with the table it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..models import ROLES
from ..services.staff import role_allows

ROLE_LABELS = {"clerk": _l("Clerk"), "supervisor": _l("Supervisor"), "admin": _l("Administrator")}
#: Marker for pages anyone may open (the login form).
ANONYMOUS = "anonymous"

F = TypeVar("F", bound=Callable[..., Any])


def current_role() -> str | None:
    if not current_user.is_authenticated:
        return None
    role = getattr(current_user, "role", None)
    return role if role in ROLES else None


def has_role(minimum: str, role: str | None = None) -> bool:
    """True when ``role`` (default: the signed-in user's) is at least ``minimum``."""
    if minimum == ANONYMOUS:
        return True
    role = role if role is not None else current_role()
    # The ranking itself is the services' (the API asks the same function).
    return role is not None and role_allows(role, minimum)


def requires(minimum: str) -> Callable[[F], F]:
    """Anonymous users go to the login page; signed-in users without the role get 403."""
    if minimum != ANONYMOUS and minimum not in ROLES:
        raise ValueError(f"unknown role {minimum!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if minimum != ANONYMOUS:
                if not current_user.is_authenticated:
                    return redirect(url_for("counter.login", next=request.full_path))
                if not has_role(minimum):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = minimum  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
