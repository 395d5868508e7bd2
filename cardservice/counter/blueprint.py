"""The counter's blueprint, on its own so that the view modules import it without importing
the package that imports them."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

_PACKAGE = Path(__file__).resolve().parent

bp = Blueprint(
    "counter",
    __name__,
    template_folder="templates",
    static_folder=str(_PACKAGE.parent / "static" / "counter"),
    static_url_path="/counter-static",
)
