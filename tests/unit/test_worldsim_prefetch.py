"""prefetch: generation of the next day overlaps the load of the current one, without changing anything."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from worldsim.simulate import prefetch


def test_items_arrive_in_order() -> None:
    assert list(prefetch(iter(range(50)))) == list(range(50))


def test_producer_errors_reach_the_consumer_after_earlier_items() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("day 2 failed")

    received = []
    with pytest.raises(ValueError, match="day 2 failed"):
        for item in prefetch(broken()):
            received.append(item)
    assert received == [1]


def test_a_consumer_that_stops_early_releases_the_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    stream = prefetch(endless())
    assert next(stream) == 0
    stream.close()  # runs the generator's finally: stop the worker
    time.sleep(0.3)
    assert threading.active_count() == before
    assert len(produced) <= 3  # it never ran far ahead of the consumer
