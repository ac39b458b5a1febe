"""What start-up built goes out of the garbage collector's way (rescue_chassis.heap)."""

from __future__ import annotations

import gc

from rescue_chassis import heap


def test_settle_freezes_what_is_alive_so_full_passes_skip_it():
    gc.unfreeze()
    try:
        kept = [[i] for i in range(10_000)]
        heap.settle()
        assert gc.get_freeze_count() >= len(kept)
        before = gc.get_freeze_count()
        later = [[i] for i in range(100)]
        heap.settle(collect=False)
        assert gc.get_freeze_count() >= before + len(later)
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
