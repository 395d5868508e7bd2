"""The sign-in lockout against concurrent attempts, over HTTP on both instances."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from .conftest import STAFF_PASSWORD, Stack, sign_in


def _burst(stack: Stack, username: str, passwords: list[tuple[float, str]]) -> list[int]:
    start = threading.Barrier(len(passwords))

    def attempt(i: int) -> int:
        delay, password = passwords[i]
        start.wait()
        time.sleep(delay)
        return sign_in(stack.instances[i % 2].url, username, password)

    with ThreadPoolExecutor(len(passwords)) as pool:
        return list(pool.map(attempt, range(len(passwords))))


def _locked(stack: Stack, username: str) -> bool:
    with stack.database.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT locked_until > now() AT TIME ZONE 'UTC' "
                    "FROM staff_user WHERE username = :u"
                ),
                {"u": username},
            )
        )


def test_sixteen_concurrent_wrong_passwords_lock_the_account(
    stack: Stack,
) -> None:
    statuses = _burst(stack, "burst.wrong", [(0.0, f"wrong password {i}") for i in range(16)])
    print(f"\n16 concurrent wrong passwords: account locked {_locked(stack, 'burst.wrong')}")
    assert 302 not in statuses and all(s < 500 for s in statuses), statuses
    assert _locked(stack, "burst.wrong")
    # Locked means locked: the right password is refused now.
    assert sign_in(stack.instances[0].url, "burst.wrong", STAFF_PASSWORD) != 302


def test_right_password_among_fifteen_wrong_never_signs_in(
    stack: Stack,
) -> None:
    signed_in, unlocked, outcomes = 0, 0, []
    for account in range(3):
        username = f"burst.right{account}"
        burst = [(0.0, f"wrong password {i}") for i in range(15)]
        statuses = _burst(stack, username, [*burst, (0.2, STAFF_PASSWORD)])
        outcomes.append(statuses)
        signed_in += statuses[-1] == 302
        unlocked += not _locked(stack, username)
    print(f"\nright password among 15 wrong: signed in on {signed_in} of 3 accounts")
    assert signed_in == 0
    assert all(302 not in statuses and max(statuses) < 500 for statuses in outcomes), outcomes
    assert unlocked == 0
