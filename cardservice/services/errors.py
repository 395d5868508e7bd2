"""Domain errors: a stable machine `code`, an HTTP-ish `status`, a translatable message.

Views map them to responses (the API to problem+json with `code`, the counter UI to a flash
message); they never carry personal data, so they may be logged.
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


class ValidationError(ServiceError):
    """One or more input fields are invalid; `errors` maps field name to message."""

    code = "invalid_input"
    status = 422
    default_message = _l("Some fields are invalid.")

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


class NotFoundError(ServiceError):
    code = "not_found"
    status = 404
    default_message = _l("Not found.")


class ConflictError(ServiceError):
    code = "conflict"
    status = 409
    default_message = _l("This action conflicts with the current state.")


class InsufficientDocumentsError(ServiceError):
    code = "insufficient_documents"
    status = 422
    default_message = _l("The documents shown do not reach the policy's minimum points.")


class PhotoError(ServiceError):
    code = "invalid_photo"
    status = 422
    default_message = _l("The photo must be a JPEG or PNG image.")


class CityNotInitialisedError(ServiceError):
    code = "city_not_initialised"
    status = 503
    default_message = _l("The city is not set up yet: run `cardservice init-city`.")


class CityExistsError(ConflictError):
    code = "city_exists"
    default_message = _l("A city is already set up in this database; it is never overwritten.")


class SigningKeyError(ServiceError):
    """A signing key cannot be used (no active key, wrong passphrase, unknown kid)."""

    code = "key_error"
    status = 500
    default_message = _l("The signing key is not available.")


class MasterKeyUnavailableError(ServiceError):
    """A resident record is wrapped under a master key this server does not hold (an old key
    removed before `cardservice keys rewrap` finished). An operator's fix, not the user's:
    configure the old key again (CARDSERVICE_PREVIOUS_MASTER_KEYS), then run the rewrap."""

    code = "master_key_unavailable"
    status = 503
    default_message = _l(
        "This record is encrypted with a master key the server does not hold at the moment. "
        "Nothing was changed. Tell the administrator."
    )


class AuditUnavailableError(ServiceError):
    """A read of a resident's record could not be written to the audit log, so the record is
    not shown: a read that leaves no trail is not served (docs/privacy.md)."""

    code = "audit_unavailable"
    status = 503
    default_message = _l(
        "This record cannot be shown right now: the audit log could not record the reading. "
        "Try again in a moment; if it keeps failing, tell the administrator."
    )


class PossibleDuplicateError(ConflictError):
    """Residents with the same folded name and birth date exist (services.duplicates);
    `candidates` are their ids. Nothing was written."""

    code = "possible_duplicate"
    status = 409
    default_message = _l(
        "A resident with this name and birth date is already enrolled. Check the record; if it "
        "is another person, confirm the enrolment."
    )

    def __init__(self, candidates: Sequence[str]) -> None:
        super().__init__(candidates=list(candidates))
        self.candidates = list(candidates)


class PrinterUnavailableError(ServiceError):
    """The card printer cannot be reached or refused the job; the card can still be printed
    from the browser."""

    code = "printer_unavailable"
    status = 503
    default_message = _l("The card printer cannot be reached. Print from the browser instead.")


class AuthenticationError(ServiceError):
    code = "authentication_failed"
    status = 401
    default_message = _l("Wrong user name or password.")


class AccountLockedError(AuthenticationError):
    """Raised for a locked account, with the same message as a wrong password on purpose: the
    sign-in form must not tell an attacker which accounts exist or are locked (ASVS 6.3.8)."""

    code = "account_locked"
    default_message = _l("Wrong user name or password.")


class PermissionDeniedError(ServiceError):
    code = "forbidden"
    status = 403
    default_message = _l("Your role does not allow this action.")
