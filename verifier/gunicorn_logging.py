"""gunicorn's error log without client addresses or request lines (verifier.gunicorn.conf.py).

The verifier records nothing that says when or from where a card was checked (DESIGN.md section
5, rule 3); it has no access log at all. gunicorn's own error lines would still name the client
("Invalid request from ip=ADDR: ...") and quote the request line: this logger reports such a
request by its kind only. The issuance app applies the same rule in cardservice/accesslog.py
(the verifier imports no cardservice code, so that a partner city can run it alone).
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]  # gunicorn ships no types


class _WithholdClientDetails(logging.Filter):
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
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _WithholdClientDetails) for f in self.error_log.filters):
            self.error_log.addFilter(_WithholdClientDetails())
