"""The admin: pages load for staff, are refused to others, and stay cheap on large tables."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.models import (
    AuditLog,
    Category,
    Experiment,
    Impression,
    Interaction,
    Item,
    ItemRule,
    ModelVersion,
)

pytestmark = pytest.mark.django_db
MODELS = [Category, Item, Interaction, ModelVersion, Impression, ItemRule, Experiment, AuditLog]


def url(model, view="changelist", *args):
    return reverse(f"admin:recommender_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def data(user, items):
    for n in range(30):
        Interaction.objects.create(user=user, item=items[n % 10], event_type="view")
    ModelVersion.objects.create(
        algorithm="recommender.ml.baselines.PopularityRecommender", status="failed", error="boom"
    )
    return items


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load_for_staff(client, staff, data, model):
    client.force_login(staff)
    assert client.get(url(model)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_changelists_are_refused_to_non_staff(client, user, model):
    client.force_login(user)
    response = client.get(url(model))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_change_pages_load(client, staff, data):
    client.force_login(staff)
    assert client.get(url(Item, "change", data[0].pk)).status_code == 200
    assert client.get(url(Interaction, "change", Interaction.objects.first().pk)).status_code == 200
    assert client.get(url(ModelVersion, "change", ModelVersion.objects.get().pk)).status_code == 200


def test_interaction_changelist_has_no_per_row_queries(client, staff, data):
    client.force_login(staff)
    client.get(url(Interaction))  # warm sessions and content types
    with CaptureQueriesContext(connection) as few:
        client.get(url(Interaction))
    for n in range(40):
        Interaction.objects.create(user=staff, item=data[n % 10], event_type="click")
    with CaptureQueriesContext(connection) as many:
        client.get(url(Interaction))
    assert len(many) == len(few)


def test_bulk_deactivate_and_activate(client, staff, items):
    client.force_login(staff)
    pks = [items[0].pk, items[1].pk]
    response = client.post(url(Item), {"action": "deactivate_items", "_selected_action": pks})
    assert response.status_code == 302
    assert Item.objects.filter(is_active=False).count() == 2
    client.post(url(Item), {"action": "activate_items", "_selected_action": pks})
    assert not Item.objects.filter(is_active=False).exists()


def test_admin_form_names_the_field_of_a_duplicate_external_id(client, staff, items):
    client.force_login(staff)
    response = client.post(
        url(Item, "add"),
        {
            "external_id": "i0",
            "title": "Again",
            "description": "",
            "properties": "{}",
            "rules-TOTAL_FORMS": 0,
            "rules-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "external_id" in response.context["adminform"].form.errors
    assert Item.objects.filter(title="Again").count() == 0


def test_admin_form_refuses_an_out_of_range_rating(client, staff, user, items):
    client.force_login(staff)
    response = client.post(
        url(Interaction, "add"),
        {
            "user": user.pk,
            "item": items[0].pk,
            "event_type": "rating",
            "value": 11,
            "timestamp_0": "2026-01-01",
            "timestamp_1": "10:00:00",
            "rec_id": "",
        },
    )
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert not Interaction.objects.exists()
