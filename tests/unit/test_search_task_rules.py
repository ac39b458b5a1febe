"""The search tasks' deadlines (DOMAIN.md, "The life of a case", 2)."""

from datetime import UTC, datetime, timedelta

from search.domain import TaskKind, task_due_at

ARRIVED = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)


def test_the_notice_and_the_police_check_are_due_within_a_day_the_dna_request_in_three():
    assert task_due_at(TaskKind.FAMILY_SEARCH_NOTICE, ARRIVED) == ARRIVED + timedelta(hours=24)
    assert task_due_at(TaskKind.POLICE_CHECK, ARRIVED) == ARRIVED + timedelta(hours=24)
    assert task_due_at(TaskKind.DNA_SAMPLE, ARRIVED) == ARRIVED + timedelta(hours=72)


def test_every_unidentified_person_gets_all_three_tasks():
    assert {k.value for k in TaskKind} == {"family_search_notice", "police_check", "dna_sample"}
