"""What create_app does once at start so that no request pays for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cardservice.printing import _fonts


def test_create_app_loads_every_card_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARDSERVICE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CARDSERVICE_ENV", "testing")
    # Earlier tests of this process may have loaded fonts already: start from none.
    monkeypatch.setattr(_fonts, "_loaded", {})
    from cardservice import create_app

    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})

    every_file = {file for chain in _fonts.CHAINS.values() for file in chain}
    assert set(_fonts._loaded) == every_file
