"""The audit chain verified from its latest checkpoint, and auditors scoped by
station (issue 32), on an in-memory chain and the packaged network."""

from __future__ import annotations

import dataclasses

import pytest
from memory_audit_chain import MemoryChain, Row, a_chain

from rescue_chassis.audit.checkpoints import Checkpoint, verify_chain
from rescue_chassis.audit.scope import auditor_scope, entries_station
from rescue_chassis.auth import Principal
from rescue_chassis.network import load_network
from rescue_chassis.refusals import Forbidden

STATIONS = ("gushi", "xixian")  # entries of two stations interleaved, as one chain holds


def altered(row: Row, **changes) -> Row:
    return dataclasses.replace(row, **changes)


async def test_a_verification_walks_from_the_latest_checkpoint_only():
    rows = a_chain(10, stations=STATIONS)
    chain = MemoryChain(rows, [Checkpoint(3, rows[2].hash), Checkpoint(7, rows[6].hash)])

    check = await verify_chain(chain, batch=2)

    assert check.ok and check.checkpoint == 7
    assert (check.entries, check.last_position, check.last_hash) == (3, 10, rows[-1].hash)
    assert chain.read == [7, 8, 9, 10]  # the checkpointed entry again, then what follows


async def test_without_a_checkpoint_or_asked_in_full_it_walks_the_whole_chain():
    rows = a_chain(5, stations=STATIONS)
    assert (await verify_chain(MemoryChain(rows))).entries == 5
    chain = MemoryChain(rows, [Checkpoint(4, rows[3].hash)])
    full = await verify_chain(chain, full=True)
    assert full.ok and full.checkpoint is None and full.entries == 5
    assert chain.read == [1, 2, 3, 4, 5]


async def test_a_change_before_the_checkpoint_is_found_by_the_full_walk():
    rows = a_chain(6, stations=STATIONS)
    rows[1] = altered(rows[1], purpose="改过")  # entry 2, after checkpoint 4 was recorded
    chain = MemoryChain(rows, [Checkpoint(4, rows[3].hash)])

    assert (await verify_chain(chain)).ok  # what a checkpoint takes on trust
    full = await verify_chain(chain, full=True)
    assert (full.ok, full.broken_at, full.last_position) == (False, 2, 1)
    assert "altered" in full.reason


async def test_a_changed_or_missing_checkpointed_entry_breaks_the_verification():
    rows = a_chain(6, stations=STATIONS)
    changed = MemoryChain(
        [*rows[:3], altered(rows[3], subject="someone.else"), *rows[4:]],
        [Checkpoint(4, rows[3].hash)],
    )
    check = await verify_chain(changed)
    assert (check.ok, check.broken_at, check.checkpoint) == (False, 4, 4)
    assert check.reason == "the checkpointed entry changed since it was verified"

    # a checkpoint naming another hash than the entry's: either was rewritten
    forged = MemoryChain(rows, [Checkpoint(4, "f" * 64)])
    assert (await verify_chain(forged)).broken_at == 4

    gone = MemoryChain([r for r in rows if r.id != 4], [Checkpoint(4, rows[3].hash)])
    check = await verify_chain(gone)
    assert (check.ok, check.broken_at) == (False, 4)
    assert "missing" in check.reason


async def test_a_break_after_the_checkpoint_names_its_position():
    rows = a_chain(8, stations=STATIONS)
    del rows[5]  # entry 6 deleted
    check = await verify_chain(MemoryChain(rows, [Checkpoint(3, rows[2].hash)]))
    assert (check.ok, check.broken_at, check.entries, check.last_position) == (False, 6, 2, 5)
    assert "missing" in check.reason


async def test_a_limited_walk_stops_intact_where_the_next_checkpoint_goes():
    rows = a_chain(10, stations=STATIONS)
    chain = MemoryChain(rows, [Checkpoint(2, rows[1].hash)])
    check = await verify_chain(chain, limit=5, batch=2)
    assert check.ok and (check.entries, check.last_position) == (5, 7)
    assert check.last_hash == rows[6].hash


async def test_an_empty_chain_verifies():
    check = await verify_chain(MemoryChain([]))
    assert check.ok and (check.entries, check.last_position, check.last_hash) == (0, None, None)


# -- whose entries an auditor sees ---------------------------------------------------

NETWORK = load_network()
CENTER = NETWORK.center.id
SATELLITE = next(s for s in NETWORK.stations if s != CENTER)
OTHER = next(s for s in NETWORK.stations if s not in (CENTER, SATELLITE))


def auditor(station: str, *roles: str) -> Principal:
    return Principal(subject="a-1", station_id=station, roles=frozenset(roles or {"auditor"}))


def test_a_stations_auditor_sees_its_station_and_the_centers_the_network():
    assert auditor_scope(auditor(SATELLITE), NETWORK) == SATELLITE
    assert auditor_scope(auditor(CENTER), NETWORK) is None
    assert auditor_scope(auditor(SATELLITE, "admin"), NETWORK) is None  # runs the system


def test_the_station_filter_is_the_callers_own_or_refused():
    assert entries_station(auditor(SATELLITE), NETWORK, None) == SATELLITE
    assert entries_station(auditor(SATELLITE), NETWORK, SATELLITE) == SATELLITE
    with pytest.raises(Forbidden):
        entries_station(auditor(SATELLITE), NETWORK, OTHER)
    assert entries_station(auditor(CENTER), NETWORK, OTHER) == OTHER
    assert entries_station(auditor(CENTER), NETWORK, None) is None


def test_an_auditor_of_a_station_outside_the_network_is_refused():
    with pytest.raises(Forbidden):
        auditor_scope(auditor("made-up-station"), NETWORK)
