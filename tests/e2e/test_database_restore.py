"""Restoring intake's database from a backup on the running network (issue 31): real
Postgres (pg_dump / pg_restore of the embedded server), the real broker, the services
as processes.

The story: A admitted and relayed before the backup; B admitted while intake's relay
is held back (its relay lock taken by the test, as another replica would hold it), so
B's event is unpublished in the backup and goes out after it; then, after the backup,
A's identity confirmed by search (intake applies it) and C admitted. Intake's database
is restored from the backup, the service stopped and started again. Afterwards:

- intake's records are the backup's: A and B, not C (the loss, listed by the restore);
- the outbox: A's event is not sent again, B's is sent again and search, which had
  applied it, skips it (one case); nothing is left unpublished;
- intake's own inbox: its consumer group rewound, it applies A's identity again.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from support import poll, query, station_client, topic_events
from test_search_identity import admit, confirmation

from rescue_localnet import backups

pytestmark = pytest.mark.e2e

RELAY_LOCK = 0x5E5C0E  # rescue_events.relay: only the holder's relay publishes


def admitted_event(network, person_id: str) -> asyncpg.Record:
    rows = query(
        network,
        "intake",
        "SELECT event_id, topic, published_at FROM outbox WHERE message_key = $1 AND headers "
        '@> \'[["ce_type", "person_admitted"]]\'::jsonb',
        person_id,
    )
    assert len(rows) == 1, rows
    return rows[0]


def cases_of(urls, network, person_id: str) -> list[dict]:
    with station_client(network) as staff:
        return staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()


def person(urls, network, person_id: str):
    with station_client(network) as staff:
        return staff.get(f"{urls['intake']}/persons/{person_id}")


def admit_while_the_relay_is_held(network, urls, loop) -> tuple[str, asyncpg.Connection]:
    """Intake restarted with its relay lock held here: B's event stays in the outbox."""
    intake = network.services["intake"]
    intake.stop()
    holder = loop.run_until_complete(asyncpg.connect(network.postgres.dsn("intake")))
    # the stopped relay's session may linger a moment, still holding the lock
    take = "SELECT pg_try_advisory_lock($1)"
    poll(lambda: loop.run_until_complete(holder.fetchval(take, RELAY_LOCK)))
    intake.start()
    intake.wait_ready()
    with station_client(network) as staff:
        made = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "female", "estimated_age": 70},
        )
        assert made.status_code == 201, made.text
    return made.json()["id"], holder


def test_intake_restored_from_a_backup_keeps_outbox_and_inboxes_consistent(network, urls, tmp_path):
    loop = asyncio.new_event_loop()
    socket_dir = network.postgres.socket_dir
    a_id = admit(network, urls)["person_id"]  # relayed, search has the case
    a_event = poll(lambda: (e := admitted_event(network, a_id))["published_at"] and e)

    b_id, holder = admit_while_the_relay_is_held(network, urls, loop)
    b_event = admitted_event(network, b_id)
    assert b_event["published_at"] is None

    backup = loop.run_until_complete(
        backups.backup_database(socket_dir, "intake", tmp_path / "backups")
    )
    assert backup.unpublished >= 1 and backup.path.stat().st_size > 0
    assert json.loads(backup.manifest.read_text())["sha256"] == backup.sha256

    # after the backup: the relay sends B, search confirms A, C is admitted
    loop.run_until_complete(holder.close())
    assert len(poll(lambda: cases_of(urls, network, b_id))) == 1
    case_a = cases_of(urls, network, a_id)[0]
    confirmed = confirmation()
    with station_client(network, roles=("search_specialist",)) as specialist:
        answer = specialist.post(
            f"{urls['search']}/cases/{case_a['id']}/identity-confirmation", json=confirmed
        )
        assert answer.status_code == 200, answer.text
    poll(lambda: person(urls, network, a_id).json()["full_name"] == confirmed["full_name"])
    identity = query(
        network,
        "search",
        "SELECT event_id, topic FROM outbox WHERE message_key = $1 AND headers "
        '@> \'[["ce_type", "identity_confirmed"]]\'::jsonb',
        a_id,
    )[0]
    c_id = admit(network, urls)["person_id"]
    c_event = poll(lambda: (e := admitted_event(network, c_id))["published_at"] and e)

    # the restore: intake stopped, its database replaced, its consumer rewound, started
    intake = network.services["intake"]
    intake.stop()
    restored = loop.run_until_complete(
        backups.restore_database(
            socket_dir, backup.path, bootstrap_servers=network.broker.bootstrap_servers
        )
    )
    # its inbox as at the backup: the identity, applied after it, is not there
    applied_again = "SELECT count(*) FROM inbox WHERE event_id = $1"
    assert query(network, "intake", applied_again, identity["event_id"])[0][0] == 0
    assert query(network, restored.aside, applied_again, identity["event_id"])[0][0] == 1
    intake.start()
    intake.wait_ready()
    loop.close()

    # intake's records are those of the backup point
    assert person(urls, network, a_id).status_code == 200
    assert person(urls, network, b_id).status_code == 200
    assert person(urls, network, c_id).status_code == 404
    # the loss is named: C's admission, which consumers did receive
    lost = {event.event_id: event for event in restored.lost}
    assert c_event["event_id"] in lost and lost[c_event["event_id"]].published_at is not None
    assert lost[c_event["event_id"]].key == c_id
    assert b_event["event_id"] not in lost and a_event["event_id"] not in lost
    assert cases_of(urls, network, c_id), "search keeps what intake lost: on-call tells it"

    # outbox: B (unpublished in the backup) sent again, A not; nothing left waiting
    assert b_event["event_id"] in restored.sent_again
    assert a_event["event_id"] not in restored.to_send
    poll(lambda: admitted_event(network, b_id)["published_at"] is not None)
    assert admitted_event(network, a_id)["published_at"] == a_event["published_at"]
    poll(
        lambda: (
            query(network, "intake", "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]
            == 0
        )
    )

    def copies_of_b(records) -> int:
        return sum(
            dict(record.headers).get("ce_id") == b_event["event_id"].encode() for record in records
        )

    sent = topic_events(network, b_event["topic"], until=lambda records: copies_of_b(records) >= 2)
    assert copies_of_b(sent) == 2  # once after the backup, once after the restore
    # search applied B once: one inbox row, one case
    applied = query(
        network, "search", "SELECT count(*) FROM inbox WHERE event_id = $1", b_event["event_id"]
    )
    assert applied[0][0] == 1
    assert len(cases_of(urls, network, b_id)) == 1

    # intake's inbox: the identity confirmed after the backup is applied again
    assert identity["topic"] in restored.consumer_rewound
    poll(lambda: query(network, "intake", applied_again, identity["event_id"])[0][0] == 1)
    assert person(urls, network, a_id).json()["full_name"] == confirmed["full_name"]
    before = query(
        network, "postgres", "SELECT 1 FROM pg_database WHERE datname = $1", restored.aside
    )
    assert before, "the database as it was before the restore is kept for on-call"
