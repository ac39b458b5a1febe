"""A verification against anchors held outside the database (issue 30), on an
in-memory chain: a chain rewritten with every hash and checkpoint recomputed
verifies on its own, but not against an anchor taken before the rewrite."""

from __future__ import annotations

from memory_audit_chain import MemoryChain, a_chain

from rescue_chassis.audit.anchors import Anchor
from rescue_chassis.audit.checkpoints import Checkpoint, verify_chain


async def test_a_chain_that_holds_its_anchors_verifies():
    rows = a_chain(8)
    anchors = [Anchor(5, rows[4].hash), Anchor(8, rows[7].hash)]
    check = await verify_chain(MemoryChain(rows, [Checkpoint(6, rows[5].hash)]), anchors=anchors)
    assert (check.ok, check.anchors, check.checkpoint) == (True, 2, 6)


async def test_a_rewrite_with_recomputed_hashes_is_caught_only_by_an_anchor():
    genuine = a_chain(8)
    anchor = Anchor(6, genuine[5].hash)
    forged = a_chain(10, subjects={3: "someone.else"})  # and two entries more since
    chain = MemoryChain(forged, [Checkpoint(7, forged[6].hash)])  # checkpoints redone too

    assert (await verify_chain(chain)).ok
    assert (await verify_chain(chain, full=True)).ok
    check = await verify_chain(chain, anchors=[anchor])
    assert (check.ok, check.broken_at) == (False, 6)
    assert "rewritten at or below it" in check.reason
    # An anchor the owner forged for the new chain leaves the genuine one standing.
    both = [Anchor(10, forged[9].hash), anchor]
    assert (await verify_chain(chain, anchors=both)).broken_at == 6
    # A rewrite above the anchor is not the anchor's to catch.
    assert (await verify_chain(chain, anchors=[Anchor(2, genuine[1].hash)])).ok


async def test_a_chain_cut_below_an_anchor_is_caught():
    rows = a_chain(8)
    anchor = Anchor(8, rows[7].hash)
    check = await verify_chain(MemoryChain(rows[:6]), anchors=[anchor])
    assert (check.ok, check.broken_at) == (False, 8)
    assert "missing" in check.reason


def test_an_anchor_reads_as_position_and_hash():
    assert Anchor.parse("42:" + "a" * 64) == Anchor(42, "a" * 64)
