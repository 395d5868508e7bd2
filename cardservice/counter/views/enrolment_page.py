"""What the enrolment page adds around the services: the photo kept across a refused
submission, the duplicates the clerk confirmed, the short document category named, and the first
card issued with the enrolment. Thin: each rule is the services' (residents, duplicates, photos,
cards); this module only carries their answers between the form and the page.
"""

from __future__ import annotations

import base64
import re

from flask import flash
from flask_babel import gettext as _

from ...extensions import db
from ...services import Actor, ServiceError, deps, utcnow
from ...services import cards as card_service
from ...services.duplicates import Confirmation
from ...services.errors import ValidationError
from ...services.photos import process_photo
from ..labels import shortfall_message
from ..resident_forms import EnrolmentForm
from .base import refuse

_RESIDENT_ID = re.compile(r"^[0-9a-f]{32}$")


def keep_photo(form: EnrolmentForm) -> None:
    """Put the submitted photo back into the form, as the clean JPEG the service makes of it,
    so the clerk does not take it again. A photo the service refuses is not kept (its error is
    on the page)."""
    if not form.photo.data:
        return  # no new file: a photo kept earlier (if any) stays in the form as it came
    raw = form.photo.data.read()
    form.photo.data.seek(0)
    try:
        clean = process_photo(raw, deps().policy)
    except ServiceError:
        form.kept_photo.data = ""
        return
    form.kept_photo.data = base64.b64encode(clean).decode("ascii")


def confirmed_candidates(form: EnrolmentForm) -> Confirmation:
    """The candidate records the clerk saw and confirmed as other people (False: none)."""
    raw = form.confirm_duplicate.data or ""
    ids = frozenset(part for part in raw.split(",") if _RESIDENT_ID.match(part))
    return ids if ids else False


def name_the_shortfall(form: EnrolmentForm) -> None:
    """Replace a generic "not enough points" by the categories that are short and by how much,
    in the words of the live meter."""
    if not form.documents.errors:
        return
    try:
        points = deps().policy.points(list(form.documents.data or []))
    except ValidationError:
        return  # an unknown category: its own message stays
    if not points.sufficient:
        form.documents.errors = [shortfall_message(points.by_kind, points.minimums)]


def issue_first_card(resident_id: str, actor: Actor) -> str | None:
    """Issue the new resident's first card; None (and the reason flashed) if it cannot be: the
    record stays, and the resident page offers to issue the card again."""
    try:
        issued = card_service.issue_card(db.session, deps(), resident_id, now=utcnow(), actor=actor)
    except ServiceError as exc:
        refuse(exc)
        return None
    flash(
        _("Card %(number)s is issued. Print it and hand it to the person.", number=issued.number),
        "success",
    )
    return issued.number
