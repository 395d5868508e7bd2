"""CSRF protection of the staff forms: Flask-WTF's token, plus a check of where the form came from.

Flask-WTF alone, over HTTPS, insists on a same-origin ``Referer``. Browsers send one only when
the page's referrer policy allows it, and they send ``Origin`` on every POST anyway; with the
app's former ``Referrer-Policy: no-referrer`` they sent neither a Referer nor a real Origin
(``Origin: null``), so every form posted over HTTPS was refused. The check here is at least as
strict and works with what browsers send:

* the CSRF token is always required;
* when the request carries ``Origin``, it must be this site's own origin (``null`` and foreign
  origins are refused);
* when it carries no ``Origin`` (older clients, scripts), Flask-WTF's own strict rule applies:
  over HTTPS, a same-origin ``Referer`` is required.

The pages send ``Referrer-Policy: same-origin`` (security.py), so a browser's POST from our own
page carries our origin, and no address of ours ever reaches another site.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_wtf.csrf import CSRFProtect, validate_csrf
from wtforms import ValidationError


class OriginCheckingCSRFProtect(CSRFProtect):  # type: ignore[misc]
    def protect(self, apply_exemptions: bool = False) -> None:
        if apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        origin = request.headers.get("Origin")
        if origin is None:
            # Token and, over HTTPS, the same-origin Referer.
            super().protect()
            return
        # request.scheme and request.host are the browser's own, through ProxyFix behind a
        # proxy; the Host header includes the port when it is not the default one, as Origin does.
        if origin != f"{request.scheme}://{request.host}":
            self._error_response("The origin does not match the host.")
        try:
            validate_csrf(self._get_csrf_token())
        except ValidationError as exc:
            self._error_response(exc.args[0])
        g.csrf_valid = True
