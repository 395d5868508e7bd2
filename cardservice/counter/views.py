"""Counter views: parse the form, call one service, map its result or domain error to a page.

No business rule lives here. The services own validation of content, transactions and the
audit log; these views only translate between HTTP and them, and pick which page to show.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import (
    format_date,
    format_datetime,
    format_number,
    ngettext,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

import cardformat

from ..extensions import db
from ..i18n import current_language
from ..printing import Layout, render_card_pdf
from ..ratelimit import limiter, login_limit, on_login_breach
from ..services import Actor, ServiceError, deps, utcnow
from ..services import audit as audit_service
from ..services import cards as card_service
from ..services import keys as key_service
from ..services import residents as resident_service
from ..services import staff as staff_service
from ..services import stats as stats_service
from ..services.errors import (
    AuditUnavailableError,
    CityNotInitialisedError,
    InsufficientDocumentsError,
    MasterKeyUnavailableError,
    NotFoundError,
    ValidationError,
)
from . import bp
from .forms import (
    AccountLanguageForm,
    ActionForm,
    EnrolmentForm,
    ErasureForm,
    FlaskForm,
    KeyRevokeForm,
    LoginForm,
    NumberSearchForm,
    PasswordResetForm,
    PersonSearchForm,
    ReasonForm,
    StaffCreateForm,
)
from .labels import (
    ACTION_LABELS,
    KEY_STATE_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    label,
    subject_label,
)
from .roles import ANONYMOUS, ROLE_LABELS, current_role, has_role, requires

#: Lowest role for each action shown as a button; the views enforce the same via @requires.
ACTION_ROLES = {
    "enrol": "clerk",
    "edit": "clerk",
    "issue": "clerk",
    "renew": "clerk",
    "replace": "supervisor",
    "suspend": "supervisor",
    "reinstate": "supervisor",
    "revoke": "supervisor",
    "erase": "supervisor",
}
AUDIT_PAGE_SIZE = 50
MAX_DB_INT = 2**31 - 1


# --- helpers ----------------------------------------------------------------------------------


def _actor() -> Actor:
    return Actor.staff(int(current_user.id))


def _fail(exc: ServiceError) -> None:
    """A service refused: it wrote nothing, so drop whatever the session still holds."""
    db.session.rollback()
    current_app.logger.info("counter: service refused with %s", exc.code)


def _required(data: str | None) -> str:
    """The data of a DataRequired text field once its form validated: a string, never None."""
    return cast(str, data)


def _apply_errors(form: FlaskForm, exc: ServiceError) -> None:
    """Put a domain error's messages next to the fields they concern (or atop the form)."""
    fields: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        fields = dict(exc.errors)
    elif exc.field:
        fields = {exc.field: exc.message}
    if not fields:
        form.form_errors.append(str(exc.message))
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is None or not hasattr(field, "errors"):
            # A field this form does not show (e.g. an API-only one): keep the message visible.
            form.form_errors.append(str(message))
            continue
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        field.errors.append(str(message))


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never send a signed-in clerk to another host.

    No control characters either: a CR or LF cannot go into a Location header (and a raw one
    would split the response)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _card_redirect(number: str) -> WerkzeugResponse:
    """Back to the page of the card's holder (the search resolves a number to it)."""
    return redirect(url_for("counter.dashboard", number=number))


def _display_status(card: Any) -> str:
    if card.status == "valid" and card.expires_at <= utcnow():
        return "expired"
    return str(card.status)


def _reason_choices(codes: Iterable[str]) -> list[tuple[str, str]]:
    return [(code, label(REASON_LABELS, code)) for code in codes]


REASON_FIELD_LABELS = {
    "replace": _l("Reason for the replacement"),
    "suspend": _l("Reason for the suspension"),
    "revoke": _l("Reason for the revocation"),
}


def _card_forms(action: str, number: str, codes: Iterable[str], data: Any = None) -> ReasonForm:
    # A prefix per card keeps every field id unique on a page listing several cards. Forms only
    # rendered get formdata=None: they must not parse (or re-parse) the request body.
    return ReasonForm(
        formdata=data,
        prefix=f"{action}-{number}",
        reasons=_reason_choices(codes),
        label=REASON_FIELD_LABELS[action],
    )


def _policy_document_groups(language: str) -> list[dict[str, Any]]:
    policy = deps().policy
    kind_labels = {"identity": _("Identity"), "residence": _("Residence in the city")}
    groups = []
    for kind, minimum in policy.minimums.items():
        groups.append(
            {
                "id": kind,
                "label": kind_labels.get(kind, kind),
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


def _enrolment_form(**kwargs: Any) -> EnrolmentForm:
    """The enrolment form, its choices from the city policy (formdata: the request's unless
    ``formdata=None`` is given)."""
    policy = deps().policy
    language = current_language()
    return EnrolmentForm(
        **kwargs,
        document_choices=[(d.id, d.name_in(language)) for d in policy.documents],
        languages=policy.languages,
    )


def _render_enrol(
    form: EnrolmentForm, status: int = 200, *, resident_id: str | None = None
) -> tuple[str, int]:
    return (
        render_template(
            "counter/enrol.html",
            form=form,
            resident_id=resident_id,
            document_kinds=_policy_document_groups(current_language()),
            birth_date_required=deps().policy.birth_date_required,
            # Browsers never re-fill a file input: after a refused form, say so by the field.
            photo_again=status != 200 and not form.photo.errors,
        ),
        status,
    )


def _render_resident(
    resident_id: str,
    *,
    failed: tuple[str, str, ReasonForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    view = resident_service.view_resident(
        db.session, deps(), resident_id, now=utcnow(), actor=_actor()
    )
    cards: list[dict[str, Any]] = []
    forms: dict[str, dict[str, ReasonForm]] = {"replace": {}, "suspend": {}, "revoke": {}}
    reasons = {
        "replace": card_service.REPLACE_REASONS,
        "suspend": card_service.SUSPEND_REASONS,
        "revoke": card_service.REVOKE_REASONS,
    }
    for card in view.cards:
        cards.append(
            {
                "number": card.number,
                "status": card.status,
                "display_status": _display_status(card),
                "status_reason": card.status_reason,
                "issued_at": card.issued_at,
                "expires_at": card.expires_at,
                "last_printed_at": card.last_printed_at,
            }
        )
        for action, codes in reasons.items():
            if failed and failed[0] == action and failed[1] == card.number:
                forms[action][card.number] = failed[2]
            else:
                forms[action][card.number] = _card_forms(action, card.number, codes)
    photo_url = None
    if view.photo:
        photo_url = "data:image/jpeg;base64," + base64.b64encode(view.photo).decode("ascii")
    duplicates = [d for d in request.args.getlist("dup") if len(d) == 32 and d.isalnum()]
    return (
        render_template(
            "counter/resident.html",
            resident=view,
            photo_url=photo_url,
            cards=cards,
            replace_forms=forms["replace"],
            suspend_forms=forms["suspend"],
            revoke_forms=forms["revoke"],
            failed_forms=[failed[2]] if failed else [],
            open_card=failed[1] if failed else None,
            action_form=ActionForm(formdata=None),
            duplicates=duplicates,
            # Mirrors issue_card's rule (one live card at a time) only to hide a button that
            # would be refused; the service still decides.
            has_live_card=any(
                c["status"] != "revoked" and c["expires_at"] > utcnow() for c in cards
            ),
        ),
        status,
    )


def _resident_of_card(number: str) -> str | None:
    try:
        return card_service.get_card(db.session, number).resident_id
    except NotFoundError:
        return None


# --- template context -------------------------------------------------------------------------


@bp.context_processor
def _counter_context() -> dict[str, Any]:
    nav: list[dict[str, Any]] = []
    city_name = None
    if current_user.is_authenticated:
        endpoint = request.endpoint or ""
        entries = [
            ("counter.dashboard", _("Find"), "clerk", ("counter.dashboard", "counter.resident")),
            ("counter.enrol", _("Enrol"), "clerk", ("counter.enrol",)),
            ("counter.audit", _("Audit log"), "supervisor", ("counter.audit",)),
            ("counter.statistics", _("Statistics"), "supervisor", ("counter.statistics",)),
            ("counter.admin_staff", _("Staff"), "admin", ("counter.admin_staff",)),
            ("counter.admin_keys", _("Keys"), "admin", ("counter.admin_keys",)),
            ("counter.admin_tokens", _("API tokens"), "admin", ("counter.admin_tokens",)),
        ]
        nav = [
            {"url": url_for(target), "label": text, "current": endpoint in current}
            for target, text, role, current in entries
            if has_role(role)
        ]
    try:
        # The city's name is public (it is printed on every card): the login page shows it too.
        city_name = key_service.get_city(db.session).name_in(current_language())
    except (CityNotInitialisedError, SQLAlchemyError):
        # No city yet, or the database is what failed and an error page is being rendered:
        # the page must still render, without the name.
        db.session.rollback()
    return {
        "nav_items": nav,
        "city_name": city_name,
        "logout_form": ActionForm(formdata=None),
        "current_role": current_role,
        "role_label": lambda role: label(ROLE_LABELS, role),
        "status_label": lambda code: label(STATUS_LABELS, code),
        "reason_label": lambda code: label(REASON_LABELS, code),
        "detail_label": _detail_label,
        "action_label": lambda code: label(ACTION_LABELS, code),
        "subject_label": subject_label,
        "key_state_label": lambda code: label(KEY_STATE_LABELS, code),
        "allowed": lambda action: has_role(ACTION_ROLES[action]),
        "format_number": format_number,
        "format_date": lambda value: format_date(value, "medium") if value else "",
        "format_datetime": lambda value: format_datetime(value, "short") if value else "",
        "format_timestamp": lambda value: format_datetime(value, "medium") if value else "",
        "format_birth_date": lambda value: format_date(value, "long") if value else _("Not given"),
    }


def _detail_label(code: str | None) -> str:
    """Audit details are reason codes, a role (account changes) or "count:N" (a search's number
    of results, a purge's or a rewrap's number of records)."""
    if code in ROLE_LABELS:
        return label(ROLE_LABELS, code)
    if code is not None and code.startswith("count:") and code[6:].isdigit():
        return cast(str, _("Count: %(count)s", count=format_number(int(code[6:]))))
    return label(REASON_LABELS, code)


# --- errors -----------------------------------------------------------------------------------


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("counter/error.html", title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        _("The form expired"),
        _("For your security, forms expire. Go back, reload the page and submit again."),
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    message = _("The upload is too large. Use a smaller photo (a JPEG or PNG of a few megabytes).")
    if request.endpoint == "counter.enrol" and current_user.is_authenticated:
        # The body was not read, so the typed fields are lost; say so next to the photo field.
        form = _enrolment_form(formdata=None)
        form.photo.errors = [message]
        form.form_errors.append(
            _("Nothing was saved. Fill in the form again with a smaller photo.")
        )
        return _render_enrol(form, 413)
    return _error_page(413, _("Upload too large"), message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    titles = {
        403: (_("Not allowed"), _("Your role does not allow this page or action.")),
        404: (_("Not found"), _("This page does not exist, or the record was deleted.")),
        405: (_("Not allowed"), _("This address does not accept this kind of request.")),
        429: (_("Too many attempts"), _("Wait a moment, then try again.")),
    }
    title, message = titles.get(status, (_("Something went wrong"), _("Try again.")))
    return _error_page(status, title, message)


@bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError) -> tuple[str, int]:
    _fail(exc)
    return _error_page(404, _("Not found"), str(exc.message))


@bp.errorhandler(CityNotInitialisedError)
def _no_city(exc: CityNotInitialisedError) -> tuple[str, int]:
    _fail(exc)
    return _error_page(503, _("The city is not set up yet"), str(exc.message))


@bp.errorhandler(MasterKeyUnavailableError)
def _master_key_unavailable(exc: MasterKeyUnavailableError) -> tuple[str, int]:
    # The service has logged the master key id for the operator; staff get what to do.
    _fail(exc)
    return _error_page(503, _("This record cannot be opened right now"), str(exc.message))


@bp.errorhandler(AuditUnavailableError)
def _audit_unavailable(exc: AuditUnavailableError) -> tuple[str, int]:
    # The record was read but its audit entry could not be written: nothing of it is shown.
    _fail(exc)
    return _error_page(503, _("This record cannot be shown right now"), str(exc.message))


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> tuple[str, int]:
    # Reached only when a view does not map an error itself.
    _fail(exc)
    return _error_page(exc.status if 400 <= exc.status < 500 else 500, _("Error"), str(exc.message))


# --- sign in and out --------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@requires(ANONYMOUS)
# Per client address, POSTs only; a breach is a 429 through _http_error's translated page.
@limiter.limit(login_limit, methods=["POST"], on_breach=on_login_breach)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("counter.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        config = current_app.config
        try:
            user = staff_service.authenticate(
                db.session,
                username=_required(form.username.data),
                password=_required(form.password.data),
                now=utcnow(),
                max_failed=int(config["MAX_FAILED_LOGINS"]),
                lockout=timedelta(minutes=int(config["LOCKOUT_MINUTES"])),
                steps_follow=True,
            )
        except ServiceError as exc:
            # One message for unknown user, wrong password and locked account, on purpose.
            _fail(exc)
            form.form_errors.append(str(exc.message))
        else:
            # Second factor, enrolment, forced password change: counter/signin.py.
            from .signin import after_password

            return after_password(user, _safe_next(form.next.data))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("counter/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@requires("clerk")
def logout() -> Any:
    # The global CSRFProtect has checked the token: a forged link cannot sign anyone out.
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("counter.login"))


# --- own account ------------------------------------------------------------------------------


@bp.route("/account", methods=["GET", "POST"])
@requires("clerk")
def account() -> Any:
    """Every signed-in role: the staff member's own settings (the counter's language)."""
    form = AccountLanguageForm()
    status = 200
    if request.method == "GET":
        form.language.data = current_user.preferred_language or ""
    elif form.validate_on_submit():
        try:
            staff_service.set_preferred_language(
                db.session,
                user_id=int(current_user.id),
                language=form.language.data or None,
                now=utcnow(),
                actor=_actor(),
            )
        except ServiceError as exc:
            _fail(exc)
            _apply_errors(form, exc)
            status = 422
        else:
            # Redirect, so the next page is rendered in the new language from the start.
            flash(_("Your language is saved."), "success")
            return redirect(url_for("counter.account"))
    else:
        status = 422
    return render_template("counter/account.html", form=form), status


# --- search -----------------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
@requires("clerk")
def dashboard() -> Any:
    number_form = NumberSearchForm(request.args)
    person_form = PersonSearchForm(formdata=request.form if request.method == "POST" else None)
    results: list[dict[str, Any]] | None = None
    status = 200
    if request.method == "POST":
        if person_form.validate():
            try:
                found = resident_service.search_residents(
                    db.session,
                    deps(),
                    display_name=_required(person_form.display_name.data),
                    birth_date=person_form.birth_date.data,
                    now=utcnow(),
                    actor=_actor(),
                )
            except AuditUnavailableError:
                raise  # the error page: not a problem with what the clerk typed
            except ServiceError as exc:
                _fail(exc)
                _apply_errors(person_form, exc)
                status = 422
            else:
                results = [
                    {
                        "id": r.id,
                        "display_name": r.display_name,
                        "birth_date": r.birth_date,
                        "card_count": len(r.cards),
                    }
                    for r in found
                ]
        else:
            status = 422
    elif "number" in request.args:
        if number_form.validate():
            try:
                card = card_service.get_card(db.session, number_form.number.data)
            except NotFoundError as exc:
                _fail(exc)
                number_form.number.errors = [
                    _("No card has this number. Check it, including the last character.")
                ]
                status = 404
            else:
                if card.resident_id is not None:
                    return redirect(url_for("counter.resident", resident_id=card.resident_id))
                flash(
                    _(
                        "Card %(number)s belongs to a record deleted on request (status: "
                        "%(status)s).",
                        number=card.number,
                        status=label(STATUS_LABELS, _display_status(card)),
                    ),
                    "warning",
                )
                return redirect(url_for("counter.dashboard"))
        else:
            status = 422
    return render_template(
        "counter/dashboard.html",
        number_form=number_form,
        person_form=person_form,
        results=results,
    ), status


# --- enrolment --------------------------------------------------------------------------------


@bp.route("/residents/new", methods=["GET", "POST"])
@requires("clerk")
def enrol() -> Any:
    form = _enrolment_form()
    if request.method == "GET":
        form.preferred_language.data = current_language()
        return _render_enrol(form)
    if not form.validate():
        _add_policy_errors(form)
        return _render_enrol(form, 422)
    data = _enrolment_input(form)
    try:
        result = resident_service.enrol_resident(
            db.session, deps(), data, now=utcnow(), actor=_actor()
        )
    except InsufficientDocumentsError as exc:
        _fail(exc)
        form.documents.errors = [str(exc.message)]
        return _render_enrol(form, 422)
    except ServiceError as exc:
        _fail(exc)
        _apply_errors(form, exc)
        return _render_enrol(form, 422)
    flash(_("The resident is enrolled. Give all the documents back to the person now."), "handback")
    if result.possible_duplicates:
        flash(
            ngettext(
                "Possible duplicate: %(num)d other record has the same name and birth date.",
                "Possible duplicate: %(num)d other records have the same name and birth date.",
                len(result.possible_duplicates),
            ),
            "warning",
        )
    return redirect(
        url_for(
            "counter.resident",
            resident_id=result.resident_id,
            enrolled=1,
            dup=result.possible_duplicates,
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
        photo=form.photo.data.read() if with_photo and form.photo.data else None,
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
            form.documents.errors = [str(exc.message)]
    except ServiceError:
        pass  # anything else is reported when the form is submitted again


@bp.route("/residents/<resident_id>/edit", methods=["GET", "POST"])
@requires("clerk")
def edit(resident_id: str) -> Any:
    if request.method == "GET":
        view = resident_service.view_resident(
            db.session, deps(), resident_id, now=utcnow(), actor=_actor()
        )
        form = _enrolment_form(
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
        return _render_enrol(form, resident_id=view.id)
    form = _enrolment_form(photo_required=False)
    if not form.validate():
        _add_policy_errors(form)
        return _render_enrol(form, 422, resident_id=resident_id)
    try:
        resident_service.update_resident(
            db.session, deps(), resident_id, _enrolment_input(form), now=utcnow(), actor=_actor()
        )
    except NotFoundError:
        raise
    except InsufficientDocumentsError as exc:
        _fail(exc)
        form.documents.errors = [str(exc.message)]
        return _render_enrol(form, 422, resident_id=resident_id)
    except ServiceError as exc:
        _fail(exc)
        _apply_errors(form, exc)
        return _render_enrol(form, 422, resident_id=resident_id)
    flash(
        _("The record is corrected. Give the documents back, and reprint the card if needed."),
        "handback",
    )
    return redirect(url_for("counter.resident", resident_id=resident_id))


# --- resident and cards -----------------------------------------------------------------------


@bp.route("/residents/<resident_id>")
@requires("clerk")
def resident(resident_id: str) -> Any:
    return _render_resident(resident_id)


@bp.route("/residents/<resident_id>/cards", methods=["POST"])
@requires("clerk")
def issue(resident_id: str) -> Any:
    try:
        issued = card_service.issue_card(
            db.session, deps(), resident_id, now=utcnow(), actor=_actor()
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
    else:
        flash(
            _(
                "Card %(number)s is issued. Print it and hand it to the person.",
                number=issued.number,
            ),
            "success",
        )
    return redirect(url_for("counter.resident", resident_id=resident_id))


@bp.route("/cards/<number>/<any(card, a4):layout>.pdf")
@requires("clerk")
def card_pdf(number: str, layout: Layout) -> Any:
    try:
        printable = card_service.print_card(
            db.session,
            deps(),
            number,
            now=utcnow(),
            actor=_actor(),
            reprint=request.args.get("reprint") == "1",
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
        return _card_redirect(number)
    pdf = render_card_pdf(printable, layout=layout)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="card-{printable.number}-{layout}.pdf"'
    )
    return response


@bp.route("/cards/<number>/renew", methods=["POST"])
@requires("clerk")
def renew(number: str) -> Any:
    try:
        renewed = card_service.renew_card(db.session, deps(), number, now=utcnow(), actor=_actor())
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
    else:
        flash(
            _(
                "Card %(number)s is renewed until %(date)s. Print it again.",
                number=renewed.number,
                date=format_date(renewed.expires_at, "long"),
            ),
            "success",
        )
    return _card_redirect(number)


def _reason_action(action: str, number: str, codes: Iterable[str], call: Any) -> Any:
    """Shared shape of replace, suspend and revoke: a reason code, one service call."""
    form = _card_forms(action, number, codes, request.form)
    if not form.validate():
        resident_id = _resident_of_card(number)
        if resident_id is None:
            abort(404)
        return _render_resident(resident_id, failed=(action, number, form), status=422)
    try:
        result = call(form.reason.data)
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
        return _card_redirect(number)
    return result


@bp.route("/cards/<number>/replace", methods=["POST"])
@requires("supervisor")
def replace(number: str) -> Any:
    def call(reason: str) -> Any:
        issued = card_service.replace_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=_actor()
        )
        flash(
            _(
                "Card %(old)s is revoked. The new card is %(new)s: print it now.",
                old=number.upper(),
                new=issued.number,
            ),
            "success",
        )
        return _card_redirect(issued.number)

    return _reason_action("replace", number, card_service.REPLACE_REASONS, call)


@bp.route("/cards/<number>/suspend", methods=["POST"])
@requires("supervisor")
def suspend(number: str) -> Any:
    def call(reason: str) -> Any:
        card = card_service.suspend_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=_actor()
        )
        flash(_("Card %(number)s is suspended.", number=card.number), "success")
        return _card_redirect(card.number)

    return _reason_action("suspend", number, card_service.SUSPEND_REASONS, call)


@bp.route("/cards/<number>/revoke", methods=["POST"])
@requires("supervisor")
def revoke(number: str) -> Any:
    def call(reason: str) -> Any:
        card = card_service.revoke_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=_actor()
        )
        flash(_("Card %(number)s is revoked for good.", number=card.number), "success")
        return _card_redirect(card.number)

    return _reason_action("revoke", number, card_service.REVOKE_REASONS, call)


@bp.route("/cards/<number>/reinstate", methods=["POST"])
@requires("supervisor")
def reinstate(number: str) -> Any:
    try:
        card = card_service.reinstate_card(db.session, deps(), number, now=utcnow(), actor=_actor())
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
    else:
        flash(_("Card %(number)s is valid again.", number=card.number), "success")
    return _card_redirect(number)


@bp.route("/residents/<resident_id>/erase", methods=["GET", "POST"])
@requires("supervisor")
def erase(resident_id: str) -> Any:
    form = ErasureForm()
    if form.validate_on_submit():
        revoked = resident_service.erase_resident(
            db.session, deps(), resident_id, now=utcnow(), actor=_actor()
        )
        flash(
            ngettext(
                "The record is deleted and %(num)d card was revoked.",
                "The record is deleted and %(num)d cards were revoked.",
                len(revoked),
            ),
            "success",
        )
        return redirect(url_for("counter.dashboard"))
    view = resident_service.view_resident(
        db.session, deps(), resident_id, now=utcnow(), actor=_actor()
    )
    status = 422 if form.errors else 200
    return render_template("counter/erase.html", form=form, resident=view), status


# --- audit log --------------------------------------------------------------------------------


@bp.route("/audit")
@requires("supervisor")
def audit() -> Any:
    card_filter = (request.args.get("card") or "").strip()[:20] or None
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_DB_INT:
        before = None  # out of any id's range (PostgreSQL would refuse to compare)
    filter_error = None
    number = None
    if card_filter:
        try:
            number = cardformat.normalize_card_number(card_filter)
        except cardformat.MalformedError:
            filter_error = _("This is not a valid card number.")
    entries = []
    if filter_error is None:
        entries = audit_service.list_entries(
            db.session, card_number=number, before_id=before, limit=AUDIT_PAGE_SIZE + 1
        )
    has_more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    usernames = {user.id: user.username for user in staff_service.list_users(db.session)}
    return render_template(
        "counter/audit.html",
        entries=entries,
        card_filter=card_filter,
        filter_error=filter_error,
        before=before,
        next_before=entries[-1].id if has_more and entries else None,
        actor_label=lambda entry: _actor_label(entry, usernames),
    ), (422 if filter_error else 200)


@bp.route("/audit/verify")
@requires("supervisor")
def audit_verify() -> Any:
    """Recompute the hash chain: an edited, inserted or deleted entry shows up here."""
    problems = audit_service.verify_chain(db.session)
    if problems:
        flash(
            ngettext(
                "The audit log fails its integrity check: %(num)d problem found. Tell the "
                "administrator at once.",
                "The audit log fails its integrity check: %(num)d problems found. Tell the "
                "administrator at once.",
                len(problems),
            ),
            "error",
        )
    else:
        flash(_("The audit log is intact: no entry was edited, inserted or deleted."), "success")
    return redirect(url_for("counter.audit"))


@bp.route("/statistics")
@requires("supervisor")
def statistics() -> Any:
    figures = stats_service.statistics(db.session, now=utcnow())
    return render_template("counter/statistics.html", figures=figures)


def _actor_label(entry: Any, usernames: dict[int, str]) -> str:
    if entry.staff_id is not None and entry.staff_id in usernames:
        return usernames[entry.staff_id]
    kind, _sep, ident = str(entry.actor).partition(":")
    if kind == "token":
        return cast(str, _("API token %(id)s", id=ident))
    if kind == "system":
        return cast(str, _("System (%(command)s)", command=ident))
    return str(entry.actor)


# --- administration ---------------------------------------------------------------------------


@bp.route("/admin/staff", methods=["GET", "POST"])
@requires("admin")
def admin_staff() -> Any:
    form = StaffCreateForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = staff_service.create_user(
                db.session,
                username=_required(form.username.data),
                password=_required(form.password.data),
                role=form.role.data,
                preferred_language=form.language.data or None,
                now=utcnow(),
                actor=_actor(),
            )
        except ServiceError as exc:
            _fail(exc)
            _apply_errors(form, exc)
            status = 422
        else:
            flash(_("The account %(name)s is created.", name=user.username), "success")
            return redirect(url_for("counter.admin_staff"))
    elif form.is_submitted():
        status = 422
    return _render_admin_staff(form, status)


def _render_admin_staff(
    form: StaffCreateForm,
    status: int = 200,
    *,
    failed: tuple[int, PasswordResetForm] | None = None,
) -> tuple[str, int]:
    users = staff_service.list_users(db.session)
    password_forms = {
        user.id: (
            failed[1]
            if failed and failed[0] == user.id
            else PasswordResetForm(formdata=None, prefix=f"user{user.id}")
        )
        for user in users
    }
    return render_template(
        "counter/admin_staff.html",
        form=form,
        users=users,
        password_forms=password_forms,
        failed_forms=[failed[1]] if failed else [],
        open_user=failed[0] if failed else None,
        action_form=ActionForm(formdata=None),
        now=utcnow(),
    ), status


@bp.route("/admin/staff/<int(max=2147483647):user_id>/active", methods=["POST"])
@requires("admin")
def admin_staff_active(user_id: int) -> Any:
    # The global CSRFProtect has already checked this POST's token.
    active = request.form.get("active") == "1"
    if user_id == int(current_user.id) and not active:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("counter.admin_staff"))
    staff_service.set_user_active(
        db.session, user_id=user_id, active=active, now=utcnow(), actor=_actor()
    )
    flash(
        _("The account is active again.") if active else _("The account is deactivated."),
        "success",
    )
    return redirect(url_for("counter.admin_staff"))


@bp.route("/admin/staff/<int(max=2147483647):user_id>/password", methods=["POST"])
@requires("admin")
def admin_staff_password(user_id: int) -> Any:
    form = PasswordResetForm(prefix=f"user{user_id}")
    if form.validate():
        try:
            staff_service.set_password(
                db.session,
                user_id=user_id,
                password=_required(form.password.data),
                now=utcnow(),
                actor=_actor(),
            )
        except NotFoundError:
            raise
        except ServiceError as exc:
            _fail(exc)
            _apply_errors(form, exc)
        else:
            flash(_("The new password is set and the account is unlocked."), "success")
            return redirect(url_for("counter.admin_staff"))
    return _render_admin_staff(StaffCreateForm(formdata=None), 422, failed=(user_id, form))


@bp.route("/admin/keys", methods=["GET"])
@requires("admin")
def admin_keys() -> Any:
    return _render_admin_keys()


def _render_admin_keys(
    failed: tuple[str, KeyRevokeForm] | None = None, status: int = 200
) -> tuple[str, int]:
    keys = key_service.list_keys(db.session)
    revoke_forms = {
        key.kid: (
            failed[1]
            if failed and failed[0] == key.kid
            else KeyRevokeForm(formdata=None, prefix=f"key{key.kid}")
        )
        for key in keys
    }
    return render_template(
        "counter/admin_keys.html",
        keys=keys,
        revoke_forms=revoke_forms,
        failed_forms=[failed[1]] if failed else [],
        open_key=failed[0] if failed else None,
        root_fingerprint=key_service.root_fingerprint(db.session),
        action_form=ActionForm(formdata=None),
    ), status


@bp.route("/admin/keys/<kid>/revoke", methods=["POST"])
@requires("admin")
def admin_keys_revoke(kid: str) -> Any:
    kid = kid[:40]
    form = KeyRevokeForm(prefix=f"key{kid}")
    if form.validate() and _required(form.kid.data).replace(" ", "").lower() != kid.lower():
        form.kid.errors = [_("The key id you typed is not this key's id.")]
    if form.errors:
        if not any(key.kid == kid for key in key_service.list_keys(db.session)):
            abort(404)
        return _render_admin_keys((kid, form), 422)
    try:
        key_service.revoke_signing_key(db.session, deps(), kid=kid, now=utcnow(), actor=_actor())
    except NotFoundError:
        raise
    except ServiceError as exc:
        _fail(exc)
        flash(str(exc.message), "error")
    else:
        flash(
            _(
                "Key %(kid)s is revoked: cards it signed fail verification until reprinted.",
                kid=kid,
            ),
            "success",
        )
    return redirect(url_for("counter.admin_keys"))


@bp.route("/admin/keys/rotate", methods=["POST"])
@requires("admin")
def admin_keys_rotate() -> Any:
    info = key_service.rotate_signing_key(db.session, deps(), now=utcnow(), actor=_actor())
    flash(_("A new signing key %(kid)s is active.", kid=info.kid), "success")
    return redirect(url_for("counter.admin_keys"))


@bp.route("/admin/tokens", methods=["GET"])
@requires("admin")
def admin_tokens() -> Any:
    return render_template(
        "counter/admin_tokens.html",
        tokens=staff_service.list_tokens(db.session),
        action_form=ActionForm(formdata=None),
    )


@bp.route("/admin/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@requires("admin")
def admin_tokens_revoke(token_id: int) -> Any:
    # The global CSRFProtect has already checked this POST's token. An unknown or already
    # revoked token is a NotFoundError: the 404 page.
    staff_service.revoke_token_id(db.session, token_id=token_id, now=utcnow(), actor=_actor())
    flash(_("The API token is revoked: it is refused from now on."), "success")
    return redirect(url_for("counter.admin_tokens"))
