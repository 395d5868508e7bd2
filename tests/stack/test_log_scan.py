"""Every log line the stack wrote during the suite, read for what must never be in one.

Runs after the other stack tests (conftest.py orders it last), over the nginx access and error
logs, both cardservice instances' output and the verifier's: no name, card number, resident id,
card code or staff password the end-to-end run used; and in the verifier's logs no client
address (the stack listens on 127.0.0.2, the browser and the tests connect from 127.0.0.1).
"""

from __future__ import annotations

import pytest

from scripts.stack import Stack

pytestmark = pytest.mark.stack

CLIENT_ADDRESS = "127.0.0.1"


def _lines(stack: Stack) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(stack.log_dir.iterdir()):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [(path.name, number, line) for number, line in enumerate(text.splitlines(), 1)]
    return found


def test_no_log_line_names_a_resident_a_card_or_a_secret(
    stack: Stack, stack_run: dict[str, set[str]]
) -> None:
    assert stack_run["resident_ids"] and stack_run["numbers"], (
        "run the whole stack suite: the end-to-end test records what the scan looks for"
    )
    lines = _lines(stack)
    names = {path for path, _n, _l in lines}
    # The scan reads what it should: nginx's access log has the run's requests in it, and every
    # process wrote its own files.
    assert {"counter-access.log", "cardservice-1.out.log", "cardservice-2.out.log"} <= names
    assert any("POST /residents/new" in line for _p, _n, line in lines)
    needles = set().union(*stack_run.values())
    leaks = [
        f"{path}:{number}: {needle!r} in {line[:200]}"
        for path, number, line in lines
        for needle in needles
        if needle.lower() in line.lower()
    ]
    assert leaks == [], "\n".join(leaks)


def test_the_verifiers_logs_carry_no_client_address(stack: Stack) -> None:
    # gunicorn's output (verifier.out.log, verifier.err.log) and nginx's verifier site.
    lines = [line for line in _lines(stack) if line[0].startswith("verifier")]
    assert any(line[0] == "verifier.err.log" for line in lines)  # gunicorn's start lines
    leaks = [f"{path}:{number}: {line}" for path, number, line in lines if CLIENT_ADDRESS in line]
    assert leaks == [], "\n".join(leaks)
