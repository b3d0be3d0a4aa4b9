"""POST /api/interactions/: per-event results, idempotency, atomicity and bad input."""

import json

import pytest

from recommender.models import Interaction

pytestmark = pytest.mark.django_db

URL = "/api/interactions/"


def post(client, body, **extra):
    return client.post(URL, json.dumps(body), content_type="application/json", **extra)


def test_one_event_is_stored_for_the_signed_in_user(as_user, user, items, contract):
    response = contract(
        post(as_user, {"item": "i1", "event_type": "purchase", "event_id": "order-1"})
    )
    assert response.status_code == 201
    (created,) = response.json()["created"]
    stored = Interaction.objects.get(pk=created["id"])
    assert (stored.user, stored.item.external_id, stored.event_type) == (user, "i1", "purchase")
    assert created == {"index": 0, "id": stored.pk, "event_id": "order-1"}


def test_a_batch_reports_created_duplicates_and_rejected(as_user, items, contract):
    response = contract(
        post(
            as_user,
            [
                {"item": "i1", "event_type": "view", "event_id": "a"},
                {"item": "nope", "event_type": "view"},
                {"item": "i2", "event_type": "rating", "value": 9},
                {"item": "i3", "event_type": "like", "event_id": "a"},
                {"item": "i4", "event_type": "like", "timestamp": "2025-05-01T10:00:00+02:00"},
            ],
        )
    )
    assert response.status_code == 201
    body = response.json()
    assert [c["index"] for c in body["created"]] == [0, 4]
    assert body["duplicates"] == [{"index": 3, "event_id": "a"}]
    rejected = {r["index"]: r["errors"] for r in body["rejected"]}
    assert "Unknown item 'nope'" in rejected[1]["item"][0]
    assert "out of range" in rejected[2]["value"][0]
    assert Interaction.objects.count() == 2


def test_a_retried_batch_stores_nothing_twice(as_user, items, contract):
    batch = [{"item": f"i{n}", "event_type": "view", "event_id": f"e{n}"} for n in range(5)]
    assert post(as_user, batch).status_code == 201
    again = contract(post(as_user, batch))
    assert again.status_code == 200
    body = again.json()
    assert body["created"] == [] and len(body["duplicates"]) == 5
    assert Interaction.objects.count() == 5


def test_all_rejected_is_a_400_naming_the_fields_and_stores_nothing(as_user, items, contract):
    response = contract(
        post(
            as_user,
            [
                {"item": "i1", "event_type": "teleport"},
                {"item": "i1", "event_type": "view", "colour": "red"},
            ],
        )
    )
    assert response.status_code == 400
    errors = [r["errors"] for r in response.json()["rejected"]]
    assert "event_type" in errors[0] and "colour" in errors[1]
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "empty"),
        ("view i1", "event object"),
        (42, "event object"),
    ],
)
def test_a_malformed_batch_is_a_400(as_user, items, contract, body, words):
    response = contract(post(as_user, body))
    assert response.status_code == 400
    assert words in response.json()["non_field_errors"][0]


def test_an_oversized_batch_is_refused_whole(as_user, items, settings, contract):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MAX_BATCH": 3}
    response = contract(post(as_user, [{"item": "i1", "event_type": "view"}] * 4))
    assert response.status_code == 400
    assert "at most 3 events" in response.json()["non_field_errors"][0]
    assert not Interaction.objects.exists()


def test_a_body_over_the_upload_limit_is_a_413(as_user, items, settings, contract):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(as_user, [{"item": "i1", "event_type": "view"}] * 50)
    assert response.status_code == 413 and "1900 bytes" in response.json()["detail"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000  # so the contract check may read the body
    contract(response)
    assert not Interaction.objects.exists()


def test_broken_json_is_a_400_naming_the_problem(as_user, items, contract):
    response = contract(as_user.post(URL, '{"item": "i1",', content_type="application/json"))
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_only_json_is_accepted(as_user, items, contract):
    response = contract(as_user.post(URL, {"item": "i1", "event_type": "view"}))
    assert response.status_code == 415


def test_anonymous_events_are_refused(api, items, contract):
    response = contract(post(api, {"item": "i1", "event_type": "view"}))
    assert response.status_code in (401, 403)
    assert not Interaction.objects.exists()


def test_a_user_cannot_record_events_for_another(as_user, user, other_user, items, contract):
    response = contract(
        post(
            as_user,
            [
                {"item": "i1", "event_type": "view"},
                {"item": "i2", "event_type": "view", "user": other_user.pk},
            ],
        )
    )
    assert response.status_code == 403 and "staff" in response.json()["user"][0]
    assert not Interaction.objects.exists()
    own = post(as_user, {"item": "i2", "event_type": "view", "user": user.pk})
    assert own.status_code == 201


def test_staff_record_events_for_any_user(as_staff, staff, other_user, items):
    response = post(
        as_staff,
        [
            {"item": "i1", "event_type": "view", "user": other_user.pk},
            {"item": "i2", "event_type": "view"},
        ],
    )
    assert response.status_code == 201
    assert {(i.user, i.item.external_id) for i in Interaction.objects.all()} == {
        (other_user, "i1"),
        (staff, "i2"),
    }


def test_events_through_a_token(token_client, user, items):
    assert post(token_client, {"item": "i1", "event_type": "like"}).status_code == 201
    assert Interaction.objects.get().user == user


def test_session_clients_need_the_csrf_token(user, items):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = post(client, {"item": "i1", "event_type": "view"})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    "event",
    [
        {"item": "\x00", "event_type": "like"},
        {"item": "i1", "event_type": "view", "event_id": "a\x00b"},
        {"item": "i1", "event_type": "view", "\x00": 1},
    ],
)
def test_nul_characters_are_a_400_not_a_crash(as_user, items, contract, event):
    response = contract(post(as_user, [{"item": "i2", "event_type": "view"}, event]))
    assert response.status_code == 400
    assert "Event 1" in response.json()["non_field_errors"][0]
    assert not Interaction.objects.exists()
