"""What start-up built goes out of the garbage collector's way (rescue_chassis.heap)."""

from __future__ import annotations

import gc

from rescue_chassis import heap


def walked_by_the_collector(objects: list) -> int:
    """How many of ``objects`` sit in a generation a collection walks (0 to 2; the
    permanent generation of frozen objects is not among them)."""
    walked = {id(o) for o in gc.get_objects()}
    return sum(id(o) in walked for o in objects)


def test_settle_takes_what_is_alive_out_of_the_generations_a_collection_walks():
    gc.unfreeze()
    try:
        kept = [[i] for i in range(1_000)]
        assert walked_by_the_collector(kept) == len(kept)
        heap.settle()
        assert walked_by_the_collector(kept) == 0

        later = [[i] for i in range(100)]  # made after start-up: walked as usual
        assert walked_by_the_collector(later) == len(later)
        heap.settle(collect=False)  # after a lazy load
        assert walked_by_the_collector(later) == 0
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
