"""`GET /healthz` reports how long the active signing key has left (services.keyhealth), with
the same 30-day warning as `cardservice keys list`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from cardservice.models import SigningKey
from cardservice.services.keyhealth import signing_key_health
from cardservice.services.keys import EXPIRY_WARNING, list_keys

from .conftest import NOW


def _active_not_after(session: Any) -> datetime:
    (active,) = [key for key in list_keys(session) if key.state == "active"]
    assert active.not_after is not None
    return active.not_after


def test_no_city_no_key(session: Any) -> None:
    health = signing_key_health(session, now=NOW)
    assert health == {"state": "none", "not_after": None, "days_left": None, "warning_days": 30}


def test_days_left_and_the_warning_window(session: Any, city: Any) -> None:
    ends = _active_not_after(session)
    far = signing_key_health(session, now=ends - timedelta(days=100, hours=1))
    assert far["state"] == "ok" and far["days_left"] == 100
    assert far["not_after"] == ends.astimezone(UTC).isoformat().replace("+00:00", "Z")
    # Exactly where `keys list` starts warning.
    assert signing_key_health(session, now=ends - EXPIRY_WARNING)["state"] == "expiring"
    assert (
        signing_key_health(session, now=ends - EXPIRY_WARNING - timedelta(seconds=1))["state"]
        == "ok"
    )
    late = signing_key_health(session, now=ends - timedelta(hours=5))
    assert late["state"] == "expiring" and late["days_left"] == 0
    past = signing_key_health(session, now=ends + timedelta(days=2))
    assert past["state"] == "expired" and past["days_left"] == -2


def test_healthz_carries_it(client: Any, session: Any, city: Any) -> None:
    # Bring the key's end to 10 days from the real clock the endpoint reads.
    soon = datetime.now(UTC) + timedelta(days=10, hours=12)
    session.execute(update(SigningKey).where(SigningKey.state == "active").values(not_after=soon))
    session.commit()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["signing_key"]["state"] == "expiring"
    assert body["signing_key"]["days_left"] == 10
    assert body["signing_key"]["warning_days"] == 30
