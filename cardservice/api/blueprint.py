"""The API's blueprint, on its own so that the view modules import it without importing the
package that imports them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
