"""The staff web UI of the issuance service (the "counter").

Thin views over ``cardservice.services``: each view parses a form, calls one service and maps
its result or domain error to a page. Templates live in ``templates/counter/``, styles and
scripts in ``cardservice/static/counter/`` (served by the app itself: no CDN).
"""

from __future__ import annotations

from . import views  # noqa: F401  (registers the routes on bp)
from .blueprint import bp

__all__ = ["bp"]
