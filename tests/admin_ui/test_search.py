"""Searching the two largest tables in the admin: exact ids, answered by their indexes."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import RequestFactory

from recommender.models import Impression, Interaction

from .conftest import track

pytestmark = pytest.mark.django_db


def _page(client, staff, model: str, term: str) -> str:
    client.force_login(staff)
    page = client.get(f"/admin/recommender/{model}/", {"q": term})
    assert page.status_code == 200
    return page.content.decode()


def _plan_of_search(model, term: str, staff) -> str:
    """PostgreSQL's plan for the rows the admin's search selects, with sequential and plain
    index scans priced out: what is left is what the indexes can answer by their conditions
    (a bitmap scan), or a sequential scan where they cannot."""
    request = RequestFactory().get("/", {"q": term})
    request.user = staff
    model_admin = admin.site._registry[model]
    found, _ = model_admin.get_search_results(request, model.objects.order_by(), term)
    sql, params = found.values("pk").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan TO off")
        cursor.execute("SET LOCAL enable_indexscan TO off")
        cursor.execute("SET LOCAL enable_indexonlyscan TO off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_tracked_list_is_found_by_its_rec_id(client, staff, user, items):
    shown = track(user, items[:3])
    other = track(user, items[3:5])
    body = _page(client, staff, "impression", shown.rec_id)
    assert shown.rec_id in body and other.rec_id not in body
    partial = _page(client, staff, "impression", shown.rec_id[:12])
    assert shown.rec_id not in partial, "a part of an id matches nothing (the search is exact)"
    if connection.vendor == "postgresql":
        plan = _plan_of_search(Impression, shown.rec_id, staff)
        assert "Bitmap Index Scan on recommender_imp_unique_rec_id" in plan, plan
        assert "Seq Scan" not in plan, plan


def test_interactions_are_found_by_list_item_or_event_id(client, staff, user, items):
    shown = track(user, items[:3], clicks=[items[1]])
    Interaction.objects.create(user=user, item=items[7], event_type="like", event_id="evt-42")
    body = _page(client, staff, "interaction", shown.rec_id)
    assert shown.rec_id in body and "Item 7" not in body
    by_item = _page(client, staff, "interaction", "i7")
    assert "Item 7" in by_item and "Item 1" not in by_item
    by_event = _page(client, staff, "interaction", "event:evt-42")
    assert "Item 7" in by_event and shown.rec_id not in by_event
    assert "Item 7" not in _page(client, staff, "interaction", "evt-42"), (
        "an event id is searched only when asked for"
    )
    if connection.vendor == "postgresql":
        for term in (shown.rec_id, "i7"):
            plan = _plan_of_search(Interaction, term, staff)
            assert "Bitmap Index Scan on recommender_int_rec" in plan, plan
            assert "Seq Scan" not in plan, plan
