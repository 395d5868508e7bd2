"""Sending a card to the counter's card printer over IPP (a CUPS queue or an IPP Everywhere
printer; CARDSERVICE_CARD_PRINTER_URI). Without one configured, the counter prints from the
browser's print dialog.

The job is the card layout of printing.render_card_pdf: two CR80 pages, front then back, printed
two-sided on the long edge. A printer that cannot print both sides is refused, not sent a job
that would put the back on a second card. Colour is asked for when the printer offers it (the
photo); the holder's data is pure black in the PDF, which card printers put on the resin black
panel (docs/operations.md, "Card printers").

The job name is the card's random job tag, never the holder's name or card number: a printer's
job history and a CUPS server's logs are read by more people than the resident record.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, Unpack

from flask_babel import lazy_gettext as _l

from ..ipp import IppClient, IppError
from ..printing import render_card_pdf
from ._types import DbSession
from .cards import PrintOptions, print_card
from .context import Deps
from .errors import ConflictError, PrinterUnavailableError

log = logging.getLogger("cardservice.cardprinter")

_DUPLEX = "two-sided-long-edge"


@dataclass(frozen=True)
class SentJob:
    job_id: int
    printer_state: str


def printer_configured(deps: Deps) -> bool:
    return bool(deps.card_printer_uri)


def _client(deps: Deps) -> IppClient:
    return IppClient(deps.card_printer_uri, ca_file=deps.card_printer_ca_file or None)


def _check_printer(client: IppClient) -> tuple[str | None, str]:
    """The colour mode to ask for (None: leave the printer's default) and the printer state."""
    attributes = client.printer_attributes(
        "sides-supported",
        "document-format-supported",
        "print-color-mode-supported",
        "printer-state",
    )
    if _DUPLEX not in attributes.values("sides-supported"):
        raise ConflictError(
            _l("The card printer cannot print both sides of a card: check its settings."),
            code="printer_not_duplex",
        )
    if "application/pdf" not in attributes.values("document-format-supported"):
        raise ConflictError(
            _l("The card printer does not accept PDF: set it up through CUPS."),
            code="printer_no_pdf",
        )
    states = {3: "idle", 4: "processing", 5: "stopped"}
    state = states.get(attributes.first("printer-state"), "unknown")
    color = "color" if "color" in attributes.values("print-color-mode-supported") else None
    return color, state


def send_to_printer(
    session: DbSession, deps: Deps, number: Any, **options: Unpack[PrintOptions]
) -> SentJob:
    """Print card `number` on the card printer: the printer is checked first (reachable,
    two-sided, PDF), then the card is signed and audited as any print (services.cards), then
    the job sent; `options` are print_card's. Raises PrinterUnavailableError when the printer
    cannot be reached or refuses the job; the audit entry then stays, as for a PDF downloaded
    and never printed."""
    if not printer_configured(deps):
        raise ConflictError(_l("No card printer is set up."), code="no_card_printer")
    client = _client(deps)
    try:
        color, state = _check_printer(client)
    except IppError as exc:
        log.warning("card printer: %s", exc)
        raise PrinterUnavailableError(
            _l("The card printer cannot be reached. Print from the browser instead.")
        ) from None
    printable = print_card(session, deps, number, **options)
    document = render_card_pdf(printable, layout="card")
    try:
        job_id = client.print_job(
            document,
            job_name=f"card-{secrets.token_hex(4)}",
            user_name="citycard",
            sides=_DUPLEX,
            color_mode=color,
        )
    except IppError as exc:
        log.warning("card printer refused a job: %s", exc)
        raise PrinterUnavailableError(
            _l("The card printer refused the card. Print from the browser instead.")
        ) from None
    log.info("card sent to the card printer (job %d)", job_id)
    return SentJob(job_id=job_id, printer_state=state)
