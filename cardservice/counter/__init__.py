"""The staff web UI of the issuance service (the "counter").

Thin views over ``cardservice.services``: each view parses a form, calls one service and maps
its result or domain error to a page. Templates live in ``templates/counter/``, styles and
scripts in ``cardservice/static/counter/`` (served by the app itself: no CDN).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

_PACKAGE = Path(__file__).resolve().parent

bp = Blueprint(
    "counter",
    __name__,
    template_folder="templates",
    static_folder=str(_PACKAGE.parent / "static" / "counter"),
    static_url_path="/counter-static",
)

from . import (  # noqa: E402,F401  (sign-in steps, step-up)
    account_security,
    enrolment,
    signin,
    views,
)

__all__ = ["bp"]
