"""What an enrolment or a correction may contain: the checks of every field and of the documents
against the city's points policy. Writes nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from ..context import Deps
from ..crypto import ResidentRecord
from ..errors import ValidationError
from ..holder_names import check_display_name
from ..photos import process_photo
from ..policy import PointsResult

GENDER_MARKERS = ("F", "M", "X")


_EARLIEST_BIRTH_DATE = date(1900, 1, 1)


@dataclass(frozen=True, kw_only=True)
class EnrolmentInput:
    """What the counter collects. `photo` is the uploaded file's bytes (JPEG or PNG)."""

    display_name: Any
    birth_date: Any  # date, or "YYYY-MM-DD" text, or None when the policy allows
    gender_marker: Any = None
    address: Any = None
    preferred_language: Any = None
    photo: bytes | None = None
    documents: Any = field(default_factory=list)


# Markup and query metacharacters appear in no name or postal address; refusing them keeps
# pasted HTML or SQL out of the record (output is escaped anyway, queries are parameterised).
_MARKUP_CHARS = frozenset('<>{}[]\\|;=$^*~`"')


def _has_markup(text: str) -> bool:
    return any(ch in _MARKUP_CHARS for ch in text)


def _has_forbidden_chars(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    # Control characters (Cc) and format characters (Cf: bidi overrides, zero-width spaces...)
    # have no place in a name or address shown to agents; newlines are allowed in addresses only.
    return any(
        unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and ch not in allowed for ch in text
    )


def _age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_enrolment(
    data: EnrolmentInput, deps: Deps, *, now: datetime
) -> tuple[ResidentRecord, PointsResult]:
    """Check every field, collecting all errors at once. Photo processing comes last (costly)."""
    policy = deps.policy
    errors: dict[str, LazyString | str] = {}

    clean_name, name_error = check_display_name(data.display_name)
    if name_error is not None:
        errors["display_name"] = name_error

    birth: date | None = None
    raw_birth = data.birth_date
    if raw_birth in (None, ""):
        if policy.birth_date_required:
            errors["birth_date"] = _l("The birth date is required.")
    elif isinstance(raw_birth, date) and not isinstance(raw_birth, datetime):
        birth = raw_birth
    elif isinstance(raw_birth, str) and len(raw_birth) == 10:
        try:
            birth = date.fromisoformat(raw_birth)
        except ValueError:
            errors["birth_date"] = _l("The birth date must be a date written YYYY-MM-DD.")
    else:
        errors["birth_date"] = _l("The birth date must be a date written YYYY-MM-DD.")
    if birth is not None:
        today = now.date()
        if birth > today or birth < _EARLIEST_BIRTH_DATE:
            errors["birth_date"] = _l("The birth date is not plausible.")
        elif _age_on(birth, today) < policy.minimum_age:
            errors["birth_date"] = _l(
                "The card is issued from the age of %(age)s.", age=policy.minimum_age
            )

    gender = data.gender_marker
    if gender in ("", None):
        gender = None
    elif not isinstance(gender, str) or gender.upper() not in GENDER_MARKERS:
        errors["gender_marker"] = _l("The gender marker is F, M, X or none.")
    else:
        gender = gender.upper()

    address = data.address
    if address in ("", None):
        address = None
    elif not isinstance(address, str):
        errors["address"] = _l("The address must be text.")
    else:
        address = unicodedata.normalize("NFC", address.strip())
        if len(address) > policy.address_max_chars:
            errors["address"] = _l(
                "The address is too long (at most %(n)s characters).", n=policy.address_max_chars
            )
        elif _has_forbidden_chars(address.replace("\n", " ").replace("\r", " ")):
            errors["address"] = _l("The address contains invisible control characters.")
        elif _has_markup(address):
            errors["address"] = _l(
                "The address contains characters that are not used in addresses."
            )
        elif not address:
            address = None

    language = data.preferred_language
    if language in ("", None):
        language = policy.languages[0]
    elif not isinstance(language, str) or language not in policy.languages:
        errors["preferred_language"] = _l("This language is not offered.")

    points: PointsResult | None = None
    documents = data.documents
    if not isinstance(documents, list | tuple) or not all(isinstance(d, str) for d in documents):
        errors["documents"] = _l("The documents must be a list of document category ids.")
    elif len(documents) > len(policy.documents):
        errors["documents"] = _l("Each document category counts once.")
    else:
        try:
            points = policy.points(list(documents))
        except ValidationError as exc:
            errors.update(exc.errors)

    if errors:
        raise ValidationError(errors)
    assert points is not None
    # Points are checked after the fields, so staff fix typos before re-checking documents.
    policy.check_documents(list(documents))

    photo = None
    if data.photo is not None:
        if not isinstance(data.photo, bytes | bytearray):
            raise ValidationError({"photo": _l("The photo must be an image file.")})
        photo = process_photo(bytes(data.photo), policy)

    record = ResidentRecord(
        display_name=clean_name,
        birth_date=birth,
        gender_marker=gender,
        address=address,
        preferred_language=str(language),
        photo=photo,
    )
    return record, points
