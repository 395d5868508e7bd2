"""What the server logs of a request: its route, never its path; no client details in errors.

Paths carry resident ids, card numbers and API tokens' subjects (``/api/v1/cards/<number>``,
``/residents/<int:resident_id>``), and docs/privacy.md, rule 7 keeps those out of every log,
access logs included. The one rule, for every route present and future: a request is logged by
the URL rule it matched (``/api/v1/cards/<number>.pdf``), never by the path it asked for. A
request that matched no route is logged as ``(no route)``: its path could be a mistyped card
number. The app records the rule in the WSGI environment (``init_app``); gunicorn's access log
reads it through ``GunicornLogger`` (config/gunicorn.conf.py), which falls back to ``-`` when the
app never saw the request, so a path reaches the log in no case.

``GunicornLogger`` also keeps client addresses and request lines out of gunicorn's error log
(a malformed request is reported by its kind only): it extends the logger that holds that rule
for both apps (webguard/gunicorn_logging.py), the one the verifier's gunicorn uses as it is.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from webguard import gunicorn_logging as webguard_logging

# Lower case: gunicorn exposes WSGI environment keys to log formats in lower case.
LOG_PATH_KEY = "cardservice.log_path"
NO_ROUTE = "(no route)"


def loggable_path() -> str:
    """The matched URL rule of the current request, with its variables' names, not values."""
    rule = request.url_rule
    return rule.rule if rule is not None else NO_ROUTE


def init_app(app: Flask) -> None:
    @app.after_request
    def _record_loggable_path(response: Response) -> Response:
        request.environ[LOG_PATH_KEY] = loggable_path()
        return response


class GunicornLogger(webguard_logging.GunicornLogger):
    """gunicorn's logger with the path atoms replaced by the matched route (see above)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = environ.get(LOG_PATH_KEY) or "-"
        atoms["U"] = path
        atoms["q"] = "-"
        atoms["f"] = "-"
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}"
        # The same values spelled as environment atoms (%({raw_uri}e)s and the like).
        for key in ("raw_uri", "path_info", "query_string", "request_uri", "script_name"):
            atoms.pop(f"{{{key}}}e", None)
        atoms.pop("{referer}i", None)
        return atoms
