"""webguard.secret_files: what both apps' configuration tests do not pin themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from webguard.secret_files import read_secret_file


def test_the_value_is_read_without_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("\n  s3cret value \r\n")
    assert read_secret_file(str(path), "APP_SECRET_FILE") == "s3cret value"


def test_a_file_that_is_not_text_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe secret bytes")
    with pytest.raises(ValueError, match=r"\(APP_SECRET_FILE\): not UTF-8 text") as refused:
        read_secret_file(str(path), "APP_SECRET_FILE")
    assert "secret bytes" not in str(refused.value)
