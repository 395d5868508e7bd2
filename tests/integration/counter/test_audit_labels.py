"""Every audit action the services record has a translated label on the audit page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

import cardservice
from cardservice.counter.labels import ACTION_LABELS, SUBJECT_KIND_LABELS, subject_label
from cardservice.extensions import db
from cardservice.services import Actor, deps
from cardservice.services.keys import rotate_root_key

SOURCE = Path(cardservice.__file__).resolve().parent
_ACTION = re.compile(r'\baction="([a-z_]+\.[a-z_]+)"')
_SUBJECT = re.compile(r'\bsubject=f"([a-z_]+):')


def test_every_recorded_action_has_a_label() -> None:
    recorded = {
        match
        for path in SOURCE.rglob("*.py")
        for match in _ACTION.findall(path.read_text(encoding="utf-8"))
    }
    assert "key.root_rotate" in recorded  # the scan itself finds the actions
    assert sorted(recorded - set(ACTION_LABELS)) == []


def test_every_kind_of_subject_recorded_has_a_label() -> None:
    recorded = {
        match
        for path in SOURCE.rglob("*.py")
        for match in _SUBJECT.findall(path.read_text(encoding="utf-8"))
    }
    assert {"resident", "user"} <= recorded  # the scan itself finds the subjects
    assert sorted(recorded - set(SUBJECT_KIND_LABELS)) == []


def test_a_subject_reads_as_its_kind_and_id(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert subject_label("resident:3f9a") == "Record 3f9a"
        assert subject_label("key:0a1b2c3d") == "Signing key 0a1b2c3d"
        assert subject_label(None) == ""
        # A kind added after this table, or a malformed value, is shown as stored.
        assert subject_label("batch:7") == "batch:7"
        assert subject_label("resident:") == "resident:"


def test_a_root_rotation_reads_as_words_in_the_audit_log(
    app: Flask, supervisor: FlaskClient
) -> None:
    with app.app_context():
        rotate_root_key(
            db.session, deps(), now=datetime.now(UTC), actor=Actor.system("keys-rotate-root")
        )
        db.session.remove()
    english = supervisor.get("/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Root key rotated" in english
    # The code is only the value of the action filter's option, never text a person reads.
    assert "key.root_rotate" not in re.sub(r'value="[^"]*"', "", english)
    french = supervisor.get("/audit", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Clé racine remplacée" in french
