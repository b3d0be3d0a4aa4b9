"""The database connection drops in the middle of storing a batch: the client gets an error,
no event of the batch is stored (never half a batch), no refresh is scheduled for it, and
sending the same batch again stores each event exactly once.

On PostgreSQL the server really terminates the request's backend (pg_terminate_backend from
a second connection) after the batch's rows went in and before the commit; SQLite has no
server to cut the line, so there the statement after the first insert fails as a dropped
connection would make it fail.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from recommender.models import Interaction
from recommender.signals import interactions_recorded

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = 300  # SQLite splits this into several INSERTs; PostgreSQL sends one


def _terminate(pid: int) -> None:
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(
        **{k: v for k, v in params.items() if k != "prepare_threshold"}, autocommit=True
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # wait until the server has really dropped it
            row = other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row[0] == 0:
                return
            other.execute("SELECT pg_sleep(0.05)")
    raise AssertionError(f"backend {pid} was not terminated")


@contextmanager
def connection_dropped_after_first_insert():
    """Drop the connection once the first INSERT of interactions has run; yields a log."""
    log = {"inserts": 0, "dropped": False}

    def wrapper(execute, sql, params, many, context):
        if log["dropped"] and connection.vendor == "sqlite":
            raise OperationalError("the connection to the database was lost")
        result = execute(sql, params, many, context)
        if sql.startswith('INSERT INTO "recommender_interaction"') and not log["dropped"]:
            log["inserts"] += 1
            log["dropped"] = True
            if connection.vendor == "postgresql":
                _terminate(context["connection"].connection.info.backend_pid)
        return result

    with connection.execute_wrapper(wrapper):
        yield log


@pytest.fixture
def signals_sent():
    sent = []

    def receiver(sender, user_ids, **kwargs):
        sent.append(set(user_ids))

    interactions_recorded.connect(receiver, weak=False)
    yield sent
    interactions_recorded.disconnect(receiver)


def test_a_batch_cut_off_mid_way_is_stored_whole_or_not_at_all(user, items, signals_sent):
    if connection.vendor not in ("sqlite", "postgresql"):
        pytest.skip("the fault is injected for SQLite and PostgreSQL")
    batch = [
        {"item": f"i{n % 10}", "event_type": "view", "event_id": f"cut-{n}"} for n in range(BATCH)
    ]
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    with connection_dropped_after_first_insert() as log:
        response = client.post("/api/interactions/", batch, format="json")
    assert log["dropped"] and log["inserts"] == 1
    assert response.status_code == 503, "the client must be told to retry, not that it stored"
    assert "Retry" in response.json()["detail"]
    assert b"Traceback" not in response.content
    connection.close()  # as the next request would: a fresh connection
    assert Interaction.objects.filter(event_id__startswith="cut-").count() == 0
    assert signals_sent == [], "no refresh for events that were never stored"
    retried = client.post("/api/interactions/", batch, format="json")
    assert retried.status_code == 201 and len(retried.json()["created"]) == BATCH
    assert Interaction.objects.filter(event_id__startswith="cut-").count() == BATCH
    again = client.post("/api/interactions/", batch, format="json")
    assert again.status_code == 200 and len(again.json()["duplicates"]) == BATCH
    assert Interaction.objects.filter(event_id__startswith="cut-").count() == BATCH
