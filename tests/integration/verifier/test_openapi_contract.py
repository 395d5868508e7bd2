"""Schemathesis against the verifier's own OpenAPI document (bounded, a few seconds).

It generates requests from the document (valid and invalid bodies, every operation) and checks
each answer against the document: status code declared, body matching its schema, no 5xx.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

# A dev dependency (pyproject.toml): missing, the import fails the run instead of skipping it.
import schemathesis
from hypothesis import HealthCheck, settings

from verifier import create_app


def _app(tmp: Path) -> Any:
    return create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp), "RATELIMIT_ENABLED": False})


# Schemathesis needs the app when the module is collected, before fixtures exist.
_INSTANCE = Path(tempfile.mkdtemp(prefix="verifier-schemathesis-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _app(_INSTANCE))


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    excluded = []
    if case.operation.path == "/decode-image":
        # A schema-valid upload is any file; whether it is a readable photo holding a QR code
        # cannot be expressed in a schema, so a valid request may rightly get 400 or 422.
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
