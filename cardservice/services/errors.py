"""Domain errors: a stable machine `code`, an HTTP-ish `status`, a translatable message.

Views map them to responses (the API to problem+json with `code`, the counter UI to a flash
message); they never carry personal data, so they may be logged.

Each error is declared in one statement: its code, status and default message are class
keywords (`class NotFoundError(ServiceError, code=..., status=..., message=...)`); a subclass
keeps what it does not name, as AccountLockedError keeps the status of AuthenticationError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class ServiceError(Exception):
    code: str = "error"
    status: int = 400
    default_message: LazyString | str = _l("The request could not be processed.")

    def __init_subclass__(
        cls,
        *,
        code: str | None = None,
        status: int | None = None,
        message: LazyString | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if status is not None:
            cls.status = status
        if message is not None:
            cls.default_message = message

    def __init__(
        self,
        message: LazyString | str | None = None,
        *,
        field: str | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.field = field
        if code is not None:
            self.code = code
        self.extra = extra
        super().__init__(self.code)

    def __str__(self) -> str:
        return str(self.message)


class InputError(ServiceError, status=422):
    """The request is well-formed but its content cannot be accepted: the user corrects it."""


class ValidationError(InputError, code="invalid_input", message=_l("Some fields are invalid.")):
    """One or more input fields are invalid; `errors` maps field name to message."""

    def __init__(
        self,
        errors: dict[str, LazyString | str],
        message: LazyString | str | None = None,
    ) -> None:
        self.errors = errors
        first_field = next(iter(errors), None)
        super().__init__(
            message if message is not None else (errors[first_field] if first_field else None),
            field=first_field,
        )


class InsufficientDocumentsError(
    InputError,
    code="insufficient_documents",
    message=_l("The documents shown do not reach the policy's minimum points."),
):
    """An enrolment's documents are below the points policy; nothing was written."""


class PhotoError(
    InputError, code="invalid_photo", message=_l("The photo must be a JPEG or PNG image.")
):
    """The photo cannot be read as an image, or is too large (services.photos)."""


class NotFoundError(ServiceError, code="not_found", status=404, message=_l("Not found.")):
    """No record has the id or number asked for (or the caller may not know it exists)."""


class ConflictError(
    ServiceError,
    code="conflict",
    status=409,
    message=_l("This action conflicts with the current state."),
):
    """The action does not fit the record's state; views often pass a more precise `code`."""


class CityExistsError(
    ConflictError,
    code="city_exists",
    message=_l("A city is already set up in this database; it is never overwritten."),
):
    """`init-city` on a database that has a city: the keys it holds are never replaced."""


class PossibleDuplicateError(
    ConflictError,
    code="possible_duplicate",
    message=_l(
        "A resident with this name and birth date is already enrolled. Check the record; if it "
        "is another person, confirm the enrolment."
    ),
):
    """Residents with the same folded name and birth date exist (services.duplicates);
    `candidates` are their ids. Nothing was written."""

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(candidates=list(candidates))
        self.candidates = list(candidates)


class UnavailableError(ServiceError, status=503):
    """Something the action needs is missing at the moment (the city's set-up, a master key,
    the audit log, the printer): an operator's matter, not the user's input."""


class CityNotInitialisedError(
    UnavailableError,
    code="city_not_initialised",
    message=_l("The city is not set up yet: run `cardservice init-city`."),
):
    """Nothing can be issued or verified before `cardservice init-city` ran."""


class MasterKeyUnavailableError(
    UnavailableError,
    code="master_key_unavailable",
    message=_l(
        "This record is encrypted with a master key the server does not hold at the moment. "
        "Nothing was changed. Tell the administrator."
    ),
):
    """A resident record is wrapped under a master key this server does not hold (an old key
    removed before `cardservice keys rewrap` finished). An operator's fix, not the user's:
    configure the old key again (CARDSERVICE_PREVIOUS_MASTER_KEYS), then run the rewrap."""

    @classmethod
    def during_rewrap(cls, master_key_id: str) -> MasterKeyUnavailableError:
        """`keys rewrap` met a data key wrapped under a master key that is not configured (the
        resident data keys and the staff TOTP secrets are re-wrapped alike)."""
        return cls(
            _l(
                "Some data keys are wrapped under master key %(key)s, which is not "
                "configured. Add it to CARDSERVICE_PREVIOUS_MASTER_KEYS and run the "
                "rewrap again: it resumes where it stopped.",
                key=master_key_id,
            ),
            master_key_id=master_key_id,
        )


class AuditUnavailableError(
    UnavailableError,
    code="audit_unavailable",
    message=_l(
        "This record cannot be shown right now: the audit log could not record the reading. "
        "Try again in a moment; if it keeps failing, tell the administrator."
    ),
):
    """A read of a resident's record could not be written to the audit log, so the record is
    not shown: a read that leaves no trail is not served (docs/privacy.md)."""


class PrinterUnavailableError(
    UnavailableError,
    code="printer_unavailable",
    message=_l("The card printer cannot be reached. Print from the browser instead."),
):
    """The card printer cannot be reached or refused the job; the card can still be printed
    from the browser."""


class SigningKeyError(
    ServiceError, code="key_error", status=500, message=_l("The signing key is not available.")
):
    """A signing key cannot be used (no active key, wrong passphrase, unknown kid)."""


class AuthenticationError(
    ServiceError,
    code="authentication_failed",
    status=401,
    message=_l("Wrong user name or password."),
):
    """A sign-in failed: unknown user, wrong password or wrong code, told apart to nobody."""


class AccountLockedError(AuthenticationError, code="account_locked"):
    """Raised for a locked account, with the same message as a wrong password on purpose: the
    sign-in form must not tell an attacker which accounts exist or are locked (ASVS 6.3.8)."""


class PermissionDeniedError(
    ServiceError, code="forbidden", status=403, message=_l("Your role does not allow this action.")
):
    """The caller's role (or token scope) does not allow the action."""
