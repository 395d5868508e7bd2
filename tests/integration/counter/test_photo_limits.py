"""The counter's side of the photo cost bound (services/photos.py): a photo too costly to
decode is a form error on the photo field, in the staff's language, and nothing is written."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from cardservice.extensions import db
from cardservice.models import Resident

from .support import enrolment_data, post


def test_a_photo_too_costly_to_decode_is_a_form_error(app: Flask, clerk: FlaskClient) -> None:
    out = io.BytesIO()
    Image.new("L", (6300, 6300), 0).save(out, "PNG", compress_level=9)  # 38 KB
    data = enrolment_data(photo=(io.BytesIO(out.getvalue()), "scan.png", "image/png"))
    response = post(clerk, "/residents/new", data, headers={"Accept-Language": "fr"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:300]
    assert "40 mégapixels" in page and "Enregistrez-la en plus petit" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 0
