"""Query vocabulary: AnyOf sends a long value list as one array on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommender.models import Interaction, Item
from recommender.querysets import any_of

pytestmark = pytest.mark.django_db


def test_any_of_selects_what_in_selects(items):
    wanted = ["i1", "i3", "i3", None, "nope"]
    assert sorted(
        Item.objects.filter(any_of("external_id", wanted)).values_list("pk", flat=True)
    ) == sorted(Item.objects.filter(external_id__in=wanted).values_list("pk", flat=True))
    assert not Item.objects.filter(any_of("external_id", [])).exists()
    assert not Item.objects.filter(any_of("external_id", [None])).exists()


def test_any_of_on_foreign_keys_and_pairs(items, user, other_user):
    Interaction.objects.create(user=user, item=items[0], event_type="view", event_id="a")
    Interaction.objects.create(user=other_user, item=items[1], event_type="view", event_id="b")
    found = Interaction.objects.filter(
        any_of("user_id", [user.pk, other_user.pk]), any_of("event_id", {"a", "zzz"})
    ).values_list("user_id", "event_id")
    assert list(found) == [(user.pk, "a")]


def test_a_thousand_values_are_one_parameter_on_postgresql(items):
    values = [f"i{n}" for n in range(1000)]
    with CaptureQueriesContext(connection) as queries:
        assert Item.objects.filter(any_of("external_id", values)).count() == 10
    sql = queries.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and "IN (" not in sql
    else:
        assert "IN (" in sql
