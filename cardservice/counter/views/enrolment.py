"""Enrolment of a resident and correction of their record (the same form)."""

from __future__ import annotations

import base64
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ...extensions import db
from ...i18n import current_language
from ...services import ServiceError, deps, utcnow
from ...services import residents as resident_service
from ...services.duplicates import PossibleDuplicateError
from ...services.errors import InsufficientDocumentsError, ValidationError
from ..blueprint import bp
from ..labels import DOCUMENT_KIND_LABELS, label, shortfall_message
from ..resident_forms import EnrolmentForm
from ..roles import requires
from . import enrolment_page
from .base import discard, perform, refuse, staff_actor


def _policy_document_groups(language: str) -> list[dict[str, Any]]:
    policy = deps().policy
    groups = []
    for kind, minimum in policy.minimums.items():
        groups.append(
            {
                "id": kind,
                "label": label(DOCUMENT_KIND_LABELS, kind),
                "minimum": minimum,
                "documents": [
                    {
                        "id": d.id,
                        "label": d.name_in(language),
                        # The policy may lack this language; the label then falls back to
                        # English (or its first name), and screen readers need to know.
                        "lang": language
                        if language in d.names
                        else ("en" if "en" in d.names else next(iter(d.names), "en")),
                        "points": d.points,
                    }
                    for d in policy.documents
                    if d.kind == kind
                ],
            }
        )
    return groups


def enrolment_form(**kwargs: Any) -> EnrolmentForm:
    """The enrolment form, its choices from the city policy (formdata: the request's unless
    ``formdata=None`` is given)."""
    policy = deps().policy
    language = current_language()
    return EnrolmentForm(
        **kwargs,
        document_choices=[(d.id, d.name_in(language)) for d in policy.documents],
        languages=policy.languages,
    )


def render_enrol(
    form: EnrolmentForm,
    status: int = 200,
    *,
    resident_id: str | None = None,
    duplicates: list[str] | None = None,
) -> tuple[str, int]:
    if status != 200:
        enrolment_page.keep_photo(form)
    kept = form.kept_photo_bytes()
    return (
        render_template(
            "counter/enrol.html",
            form=form,
            resident_id=resident_id,
            document_kinds=_policy_document_groups(current_language()),
            birth_date_required=deps().policy.birth_date_required,
            # Browsers never re-fill a file input: the photo comes back in the form instead.
            kept_photo_url=(
                "data:image/jpeg;base64," + base64.b64encode(kept).decode("ascii") if kept else None
            ),
            duplicates=duplicates or [],
        ),
        status,
    )


@bp.route("/residents/new", methods=["GET", "POST"])
@requires("clerk")
def enrol() -> Any:
    form = enrolment_form()
    if request.method == "GET":
        form.preferred_language.data = current_language()
        return render_enrol(form)
    if not form.validate():
        _add_policy_errors(form)
        return render_enrol(form, 422)
    data = _enrolment_input(form)
    try:
        result = resident_service.enrol_resident(
            db.session,
            deps(),
            data,
            now=utcnow(),
            actor=staff_actor(),
            confirm_duplicate=enrolment_page.confirmed_candidates(form),
        )
    except PossibleDuplicateError as exc:
        # Nothing is written: the clerk checks the candidates, then confirms or stops.
        discard(exc)
        return render_enrol(form, 409, duplicates=exc.candidates)
    except ServiceError as exc:
        refuse(exc, form)
        enrolment_page.name_the_shortfall(form)
        return render_enrol(form, 422)
    flash(_("The resident is enrolled. Give all the documents back to the person now."), "handback")
    if result.possible_duplicates:
        flash(
            ngettext(
                "Enrolled although %(num)d other record has the same name and birth date.",
                "Enrolled although %(num)d other records have the same name and birth date.",
                len(result.possible_duplicates),
            ),
            "warning",
        )
    # "Enrol and issue the card": the first card in the same step, and it opens in the print
    # dialog at once. "Enrol only" leaves the card for later (the person comes back for it).
    number = None
    if request.form.get("issue") == "1":
        number = enrolment_page.issue_first_card(result.resident_id, staff_actor())
    return redirect(
        url_for(
            "counter.resident",
            resident_id=result.resident_id,
            enrolled=1,
            dup=result.possible_duplicates,
            print=number,
        )
    )


def _enrolment_input(
    form: EnrolmentForm, *, with_photo: bool = True
) -> resident_service.EnrolmentInput:
    return resident_service.EnrolmentInput(
        display_name=form.display_name.data,
        birth_date=form.birth_date.data,
        gender_marker=form.gender_marker.data or None,
        address=form.address.data or None,
        preferred_language=form.preferred_language.data,
        photo=form.photo_bytes() if with_photo else None,
        documents=list(form.documents.data or []),
    )


def _add_policy_errors(form: EnrolmentForm) -> None:
    """The form refused some fields; ask the service's validation (it writes nothing) about
    the others too, so the clerk sees every problem in one round instead of two."""
    try:
        resident_service.validate_enrolment(
            _enrolment_input(form, with_photo=False), deps(), now=utcnow()
        )
    except ValidationError as exc:
        for name, message in exc.errors.items():
            field = getattr(form, name, None)
            if field is not None and not field.errors:
                field.errors = [str(message)]
    except InsufficientDocumentsError as exc:
        if not form.documents.errors:
            form.documents.errors = [
                shortfall_message(exc.extra.get("points"), exc.extra.get("minimums"))
            ]
    except ServiceError:
        pass  # anything else is reported when the form is submitted again
    enrolment_page.name_the_shortfall(form)


@bp.route("/residents/<resident_id>/edit", methods=["GET", "POST"])
@requires("clerk")
def edit(resident_id: str) -> Any:
    if request.method == "GET":
        view = resident_service.view_resident(
            db.session, deps(), resident_id, now=utcnow(), actor=staff_actor()
        )
        form = enrolment_form(
            formdata=None,
            photo_required=False,
            data={
                "display_name": view.display_name,
                "birth_date": view.birth_date,
                "gender_marker": view.gender_marker or "",
                "address": view.address or "",
                "preferred_language": view.preferred_language,
            },
        )
        return render_enrol(form, resident_id=view.id)
    form = enrolment_form(photo_required=False)
    if not form.validate():
        _add_policy_errors(form)
        return render_enrol(form, 422, resident_id=resident_id)
    if not perform(
        lambda: resident_service.update_resident(
            db.session,
            deps(),
            resident_id,
            _enrolment_input(form),
            now=utcnow(),
            actor=staff_actor(),
        ),
        form,
    ):
        return render_enrol(form, 422, resident_id=resident_id)
    flash(
        _("The record is corrected. Give the documents back, and reprint the card if needed."),
        "handback",
    )
    return redirect(url_for("counter.resident", resident_id=resident_id))
