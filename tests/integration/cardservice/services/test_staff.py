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


def test_nobody_deactivates_their_own_account(session, actor) -> None:
    from sqlalchemy import func, select

    from cardservice.models import AuditEntry
    from cardservice.services import Actor, staff
    from cardservice.services.errors import ConflictError

    admin = staff.create_user(
        session, username="ada", password="a long admin password", role="admin", now=NOW,
        actor=actor,
    )  # fmt: skip
    other = staff.create_user(
        session, username="bo", password="a long admin password", role="admin", now=NOW,
        actor=actor,
    )  # fmt: skip
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(ConflictError) as refused:
        staff.set_user_active(
            session, user_id=admin.id, active=False, now=NOW, actor=Actor.staff(admin.id)
        )
    assert refused.value.code == "self_deactivation"
    session.rollback()
    assert session.get(type(admin), admin.id).active
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    # Reactivating oneself is harmless; another administrator may deactivate the account.
    staff.set_user_active(
        session, user_id=admin.id, active=True, now=NOW, actor=Actor.staff(admin.id)
    )
    staff.set_user_active(
        session, user_id=admin.id, active=False, now=NOW, actor=Actor.staff(other.id)
    )
    assert not session.get(type(admin), admin.id).active


def test_roles_are_ranked_once_in_the_order_of_the_model() -> None:
    from cardservice.models import ROLES
    from cardservice.services import staff

    assert list(staff.ROLE_RANK) == list(ROLES) == ["clerk", "supervisor", "admin"]
    for i, role in enumerate(ROLES):
        for j, required in enumerate(ROLES):
            assert staff.role_allows(role, required) is (i >= j)
    assert not staff.role_allows("visitor", "clerk")
