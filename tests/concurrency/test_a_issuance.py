"""Concurrent enrolment and issuance across both instances: no duplicate, no 5xx."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from .conftest import Stack, Tally, enrol, issue

THREADS = 8
RESIDENTS_PER_THREAD = 12


def test_concurrent_enrol_and_issue_allocate_unique_numbers_and_indices(stack: Stack) -> None:
    tally = Tally()
    start = threading.Barrier(THREADS)

    def work(worker: int) -> list[str]:
        http = stack.api(stack.tokens["clerk"])
        numbers = []
        start.wait()
        for i in range(RESIDENTS_PER_THREAD):
            url = stack.instances[(worker + i) % 2].url
            enrolled = enrol(http, url, tally)
            assert enrolled.status_code == 201, enrolled.text
            resident = enrolled.json()["id"]
            # A double click at two counters: both instances at once, one card results.
            other = stack.instances[(worker + i + 1) % 2].url
            with ThreadPoolExecutor(2) as pool:
                answers = list(
                    pool.map(issue, [http] * 2, (url, other), [resident] * 2, [tally] * 2)
                )
            codes = sorted(a.status_code for a in answers)
            assert codes == [201, 409], [a.text for a in answers]
            numbers.extend(a.json()["number"] for a in answers if a.status_code == 201)
        return numbers

    with ThreadPoolExecutor(THREADS) as pool:
        numbers = [n for batch in pool.map(work, range(THREADS)) for n in batch]

    assert tally.server_errors == 0
    assert len(numbers) == len(set(numbers)) == THREADS * RESIDENTS_PER_THREAD
    with stack.database.connect() as connection:
        cards, distinct_numbers, distinct_indices = connection.execute(
            text("SELECT count(*), count(DISTINCT number), count(DISTINCT status_index) FROM card")
        ).one()
        allocated = connection.scalar(text("SELECT sum(allocated) FROM status_list"))
    assert cards == distinct_numbers == distinct_indices
    # Every allocation was counted once: no two issuers read the same count.
    assert allocated == cards
