"""gunicorn's error log without client addresses or request lines.

gunicorn's own error lines name the client ("Invalid request from ip=ADDR: ...") and quote the
request line, whose path can carry a resident id or a card number. An address says who used the
service from where (docs/privacy.md): the issuance app keeps none in any log, and the verifier
records nothing that says when or from where a card was checked (it has no access log at all).
``GunicornLogger`` reports such a request by its kind only.

The verifier's gunicorn uses ``GunicornLogger`` as it is (config/verifier.gunicorn.conf.py); the
issuance app's subclasses it to write routes instead of paths in its access log
(cardservice/accesslog.py, config/gunicorn.conf.py).
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # gunicorn ships no types


class WithholdClientDetails(logging.Filter):
    """Rewrites gunicorn's error lines that name the client's address or quote the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str):
            return True
        if message.startswith("Invalid request from ip="):
            # "Invalid request from ip=ADDR: REASON[: QUOTED REQUEST PART]"
            reason = message.split(": ", 1)[1] if ": " in message else ""
            record.msg, record.args = "Invalid request: %s", (reason.split(":", 1)[0],)
        elif message.startswith("Error handling request"):
            record.msg, record.args = "Error handling request (request line withheld)", ()
        return True


class GunicornLogger(Logger):  # type: ignore[misc]  # Logger is untyped (Any)
    """gunicorn's logger whose error log withholds client details (``WithholdClientDetails``)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # setup() runs again on every reload (SIGHUP): one filter is enough.
        if not any(isinstance(f, WithholdClientDetails) for f in self.error_log.filters):
            self.error_log.addFilter(WithholdClientDetails())
