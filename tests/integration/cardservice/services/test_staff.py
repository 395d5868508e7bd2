"""services.staff: accounts."""

from __future__ import annotations

import pytest

from cardservice.services.errors import (
    NotFoundError,
)

from ..conftest import NOW


def test_staff_accounts_deactivate_and_password(session, actor) -> None:
    from cardservice.services import authentication, staff
    from cardservice.services.errors import AuthenticationError

    user = staff.create_user(
        session,
        username="li.wei",
        password="first long password",
        role="clerk",
        now=NOW,
        actor=actor,
    )
    assert authentication.authenticate(
        session, username="li.wei", password="first long password", now=NOW
    )
    staff.set_password(
        session, user_id=user.id, password="second long password", now=NOW, actor=actor
    )
    with pytest.raises(AuthenticationError):
        authentication.authenticate(
            session, username="li.wei", password="first long password", now=NOW
        )
    staff.set_user_active(session, user_id=user.id, active=False, now=NOW, actor=actor)
    with pytest.raises(AuthenticationError):
        authentication.authenticate(
            session, username="li.wei", password="second long password", now=NOW
        )
    with pytest.raises(NotFoundError):
        staff.set_password(session, user_id=999, password="x" * 20, now=NOW, actor=actor)
    assert [u.username for u in staff.list_users(session)] == ["li.wei"]
    assert staff.role_allows("admin", "supervisor") and not staff.role_allows("clerk", "admin")
