"""Searching the two largest tables in the admin: exact ids, answered by their indexes."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from recommender.models import Interaction

from .conftest import track

pytestmark = pytest.mark.django_db


def _search(client, staff, model: str, term: str, in_sql: str = ""):
    """The changelist's page for ``term``, and its queries of the table that hold ``in_sql``
    (the term itself unless given)."""
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/admin/recommender/{model}/", {"q": term})
    assert page.status_code == 200
    table = f'FROM "recommender_{model}"'
    sqls = [q["sql"] for q in queries.captured_queries]
    searched = [sql for sql in sqls if table in sql and (in_sql or term) in sql]
    assert searched, "the changelist ran no query with the term"
    return page.content.decode(), searched


def _plan(sql: str) -> str:
    """PostgreSQL's plan of ``sql`` with sequential scans priced out: what the indexes allow
    (the test tables are too small for the planner to prefer an index on its own)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan TO off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_tracked_list_is_found_by_its_rec_id(client, staff, user, items):
    shown = track(user, items[:3])
    other = track(user, items[3:5])
    body, searched = _search(client, staff, "impression", shown.rec_id)
    assert shown.rec_id in body and other.rec_id not in body
    partial = _search(client, staff, "impression", shown.rec_id[:12])[0]
    assert shown.rec_id not in partial, "a part of an id matches nothing (the search is exact)"
    if connection.vendor == "postgresql":
        for sql in searched:
            plan = _plan(sql)
            assert "recommender_imp_unique_rec_id" in plan and "Seq Scan" not in plan, plan


def test_interactions_are_found_by_list_item_or_event_id(client, staff, user, items):
    shown = track(user, items[:3], clicks=[items[1]])
    Interaction.objects.create(user=user, item=items[7], event_type="like", event_id="evt-42")
    body, searched = _search(client, staff, "interaction", shown.rec_id)
    assert shown.rec_id in body and "Item 7" not in body
    by_item, searched_by_item = _search(
        client, staff, "interaction", "i7", in_sql=f'"item_id" IN ({items[7].pk})'
    )
    assert "Item 7" in by_item and "Item 1" not in by_item
    by_event = _search(client, staff, "interaction", "event:evt-42", in_sql="'evt-42'")[0]
    assert "Item 7" in by_event and shown.rec_id not in by_event
    assert "Item 7" not in _search(client, staff, "interaction", "evt-42")[0], (
        "an event id is searched only when asked for"
    )
    if connection.vendor == "postgresql":
        for sql in searched + searched_by_item:
            plan = _plan(sql)
            assert "recommender_int_rec" in plan and "Seq Scan" not in plan, plan
