"""The verifier's server API (POST /api/v1/verify) as a conformance-kit command, kind "card":

    CITYCARD_API_URL=http://... CITYCARD_API_CLOCK=/path/to/clock-file \
        python -m cardformat.conformance --kind card -- python tests/.../api_adapter.py

The server under test reads its clock from the file CITYCARD_API_CLOCK (test_kit.py sets it up
so), which this writes before each request: the vectors are checked at their own instants.
Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path


def main() -> int:
    if os.environ["CITYCARD_KIND"] != "card":
        print("unsupported")
        return 0
    Path(os.environ["CITYCARD_API_CLOCK"]).write_text(os.environ["CITYCARD_NOW"], "utf-8")
    request = urllib.request.Request(
        os.environ["CITYCARD_API_URL"] + "/api/v1/verify",
        data=json.dumps({"qr": sys.stdin.buffer.read().decode("utf-8")}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        body = json.load(response)
    # A card that verified is "valid" for this kind whatever its status: the server answers
    # with the holder exactly when the card verified.
    print("valid" if body["holder"] is not None else body["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
