"""services.residents.validation: what an enrolment may contain, photos included."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from cardservice.models import Resident
from cardservice.services import residents
from cardservice.services.errors import (
    InsufficientDocumentsError,
    PhotoError,
    ValidationError,
)

from ..conftest import NOW, enrolment, make_photo


def test_photo_is_reencoded_and_stripped(session, deps, actor, city) -> None:
    photo = make_photo(size=(1600, 2000), exif_gps=True)
    assert b"SpyCam" in photo
    result = residents.enrol_resident(session, deps, enrolment(photo=photo), now=NOW, actor=actor)
    stored = residents.get_resident(session, deps, result.resident_id).photo
    assert stored is not None and b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert image.size[0] <= 600 and image.size[1] <= 800
        assert not image.getexif()


def test_png_photo_accepted(session, deps, actor, city) -> None:
    result = residents.enrol_resident(
        session, deps, enrolment(photo=make_photo("PNG")), now=NOW, actor=actor
    )
    assert residents.get_resident(session, deps, result.resident_id).photo.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    "photo",
    [
        b"%PDF-1.7\n1 0 obj<<>>endobj\n",  # a PDF renamed .jpg
        b"GIF89a" + b"\x00" * 100,
        b"\xff\xd8\xff\xe0" + b"\x00" * 50,  # truncated JPEG
        b"",
    ],
)
def test_bad_photos_refused(session, deps, actor, city, photo: bytes) -> None:
    with pytest.raises(PhotoError):
        residents.enrol_resident(session, deps, enrolment(photo=photo), now=NOW, actor=actor)
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_decompression_bomb_refused(session, deps, actor, city) -> None:
    from ..test_hostile_inputs import _bomb_png

    bomb = _bomb_png()
    assert bomb[12:16] == b"IHDR" and bomb[16:24] == (30000).to_bytes(4, "big") * 2
    assert len(bomb) < 300_000
    with pytest.raises(PhotoError):
        residents.enrol_resident(session, deps, enrolment(photo=bomb), now=NOW, actor=actor)


def test_documents_below_minimum_refused(session, deps, actor, city) -> None:
    with pytest.raises(InsufficientDocumentsError) as info:
        residents.enrol_resident(
            session,
            deps,
            enrolment(documents=["driving_licence", "utility_bill"]),
            now=NOW,
            actor=actor,
        )
    assert info.value.extra["points"] == {"identity": 2, "residence": 1}
    # Points add up across documents of the same kind; a category counts once.
    ok = residents.enrol_resident(
        session,
        deps,
        enrolment(documents=["driving_licence", "school_record", "shelter_letter"]),
        now=NOW,
        actor=actor,
    )
    assert ok.points.by_kind == {"identity": 3, "residence": 1}
    with pytest.raises(InsufficientDocumentsError):
        residents.enrol_resident(
            session,
            deps,
            enrolment(
                documents=["school_record", "school_record", "school_record", "lease_or_deed"]
            ),
            now=NOW,
            actor=actor,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("display_name", ""),
        ("display_name", "A" * 101),
        ("display_name", "Evil\u202eName"),
        ("display_name", "Tab\tName"),
        ("display_name", 42),
        ("birth_date", "17/04/1990"),
        ("birth_date", "2030-01-01"),
        ("birth_date", "2020-01-01"),  # younger than the policy's minimum age
        ("birth_date", None),
        ("gender_marker", "Q"),
        ("address", "x" * 201),
        ("preferred_language", "xx"),
        ("documents", "passport"),
        ("documents", ["no_such_category"]),
    ],
)
def test_invalid_fields(session, deps, actor, city, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        residents.enrol_resident(session, deps, enrolment(**{field: value}), now=NOW, actor=actor)
    assert field in info.value.errors
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_display_name_normalised(session, deps, actor, city) -> None:
    decomposed = "Jose\u0301   Marti\u0301"
    result = residents.enrol_resident(
        session, deps, enrolment(display_name=decomposed), now=NOW, actor=actor
    )
    assert residents.get_resident(session, deps, result.resident_id).display_name == "José Martí"


def test_photo_error_messages_are_translatable(deps) -> None:
    from cardservice.services.photos import process_photo

    with pytest.raises(PhotoError) as info:
        process_photo(b"not an image at all", deps.policy)
    assert info.value.code == "invalid_photo"
    assert str(info.value.message) == "The photo must be a JPEG or PNG image."


def test_photo_orientation_applied_and_all_metadata_dropped(deps) -> None:
    from cardservice.services.photos import process_photo

    image = Image.new("RGB", (800, 600), (90, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "SpyCam Inc"
    source = io.BytesIO()
    image.save(
        source,
        format="JPEG",
        exif=exif,
        icc_profile=b"FAKE-ICC-PROFILE" * 8,
        comment=b"secret comment",
    )
    data = source.getvalue()
    assert b"secret comment" in data and b"FAKE-ICC" in data
    out = process_photo(data, deps.policy)
    for marker in (b"SpyCam", b"secret comment", b"FAKE-ICC", b"Exif"):
        assert marker not in out
    with Image.open(io.BytesIO(out)) as result:
        assert result.size[0] < result.size[1]  # portrait: the orientation was applied
        assert "icc_profile" not in result.info and "comment" not in result.info
