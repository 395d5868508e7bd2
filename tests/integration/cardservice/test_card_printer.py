"""Printing on a card printer over IPP, against a real IPP Everywhere printer (ippeveprinter)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.ipp import IppClient, IppError, decode_response, encode_request
from cardservice.models import AuditEntry
from cardservice.services import cards, residents
from cardservice.services.cardprinter import send_to_printer
from cardservice.services.errors import ConflictError, PrinterUnavailableError
from scripts.stack import free_port
from tests.ippeve import ippeveprinter

from .conftest import NOW, enrolment

ZOE = "Zoé Ngọc Lâm-Dubois"


def _card(session: Any, deps: Any, actor: Any) -> str:
    enrolled = residents.enrol_resident(
        session, deps, enrolment(display_name=ZOE), now=NOW, actor=actor
    )
    return cards.issue_card(session, deps, enrolled.resident_id, now=NOW, actor=actor).number


def test_request_encoding_round_trips() -> None:
    body = encode_request(
        0x0002, 7, [(0x42, "job-name", "card"), (0x44, "requested-attributes", ["a", "b"])]
    )
    # Header: version 2.0, operation, request id; then the operation group.
    assert body[:9] == bytes([2, 0, 0, 2, 0, 0, 0, 7, 1])
    parsed = decode_response(body)
    assert parsed.request_id == 7
    assert parsed.first("attributes-charset") == "utf-8"
    assert parsed.values("requested-attributes") == ["a", "b"]
    with pytest.raises(IppError):
        decode_response(body[:-3])


def test_card_goes_to_the_printer_two_sided(tmp_path: Path, session, deps, actor, city) -> None:
    number = _card(session, deps, actor)
    with ippeveprinter(tmp_path) as printer:
        deps = dataclasses.replace(deps, card_printer_uri=printer.uri)
        sent = send_to_printer(session, deps, number, now=NOW, actor=actor)
        assert sent.job_id > 0
        client = IppClient(printer.uri)
        state, _reasons = client.job_state(sent.job_id)
        assert state in ("pending", "processing", "completed")
        # The job as the printer holds it: two-sided, in colour, named without personal data.
        job = client.request(
            0x0009,
            [
                (0x21, "job-id", sent.job_id),
                (0x44, "requested-attributes", ["sides", "print-color-mode", "job-name"]),
            ],
        )
        assert job.first("sides") == "two-sided-long-edge"
        assert job.first("print-color-mode") == "color"
        assert job.first("job-name").startswith("card-")
        deadline = time.monotonic() + 10
        while not printer.documents() and time.monotonic() < deadline:
            time.sleep(0.05)
        (document,) = printer.documents()
        data = document.read_bytes()
        assert data.startswith(b"%PDF-")
        assert ZOE.encode() not in document.name.encode() and number not in document.name
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "card.print")).one()
    assert entry.card_number == number


def test_a_one_sided_printer_is_refused(tmp_path: Path, session, deps, actor, city) -> None:
    number = _card(session, deps, actor)
    with ippeveprinter(tmp_path, duplex=False) as printer:
        deps = dataclasses.replace(deps, card_printer_uri=printer.uri)
        with pytest.raises(ConflictError) as info:
            send_to_printer(session, deps, number, now=NOW, actor=actor)
        assert info.value.code == "printer_not_duplex"
        assert printer.documents() == []
    # Nothing was printed, so nothing was audited as printed.
    assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "card.print")).all()


def test_an_unreachable_printer_is_a_clean_error(session, deps, actor, city) -> None:
    number = _card(session, deps, actor)
    deps = dataclasses.replace(deps, card_printer_uri=f"ipp://127.0.0.1:{free_port()}/ipp/print")
    with pytest.raises(PrinterUnavailableError):
        send_to_printer(session, deps, number, now=NOW, actor=actor)


def test_no_printer_configured(session, deps, actor, city) -> None:
    number = _card(session, deps, actor)
    with pytest.raises(ConflictError) as info:
        send_to_printer(session, deps, number, now=NOW, actor=actor)
    assert info.value.code == "no_card_printer"
