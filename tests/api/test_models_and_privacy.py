"""Model versions and training (staff), and a user's own data: export and forget."""

import pytest

from recommender import cache
from recommender.models import AuditLog, Impression, Interaction, ModelVersion

pytestmark = pytest.mark.django_db


def test_staff_list_versions_with_metrics(as_staff, trained_version, contract):
    body = contract(as_staff.get("/api/models/")).json()
    (listed,) = body["results"]
    assert listed["id"] == trained_version.pk and listed["is_active"] is True
    assert listed["status"] == "ready" and "default" in listed["metrics"]
    assert "history" not in listed
    detail = contract(as_staff.get(f"/api/models/{trained_version.pk}/")).json()
    assert isinstance(detail["history"], list)


def test_models_are_for_staff_only(as_user, api, items, contract):
    for client in (as_user, api):
        assert contract(client.get("/api/models/")).status_code in (401, 403)
        assert contract(client.post("/api/models/train/", {}, format="json")).status_code in (
            401,
            403,
        )
    assert not ModelVersion.objects.exists()


def test_train_queues_a_version_and_hands_it_to_the_worker(
    as_staff, items, contract, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = contract(
            as_staff.post("/api/models/train/", {"params": {"alpha": 2}}, format="json")
        )
    assert response.status_code == 202
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.status == "queued" and version.params["alpha"] == 2
    assert len(callbacks) == 1, "the task is enqueued once the row is committed"


def test_train_with_bad_params_is_a_400_naming_them(as_staff, items, contract):
    response = contract(as_staff.post("/api/models/train/", {"params": [1, 2]}, format="json"))
    assert response.status_code == 400 and "params" in response.json()
    assert not ModelVersion.objects.exists()


def test_export_holds_only_my_interactions(as_user, user, other_user, items, contract):
    from recommender import services

    services.record_interaction(user, items[0], "like", event_id="mine")
    services.record_interaction(other_user, items[1], "purchase", event_id="theirs")
    body = contract(as_user.get("/api/me/data/")).json()
    assert [e["event_id"] for e in body["interactions"]] == ["mine"]
    assert body["interactions"][0]["item"] == "i0"
    assert AuditLog.objects.get(action="export").actor == user


def test_forget_deletes_my_data_and_nobody_elses(
    as_user, user, other_user, items, contract, django_capture_on_commit_callbacks
):
    from recommender import services

    services.record_interaction(user, items[0], "like")
    services.record_interaction(other_user, items[1], "like")
    Impression.objects.create(user=user, item_ids=["i0"])
    cache.set_lists(7, {user.pk: [(items[2].pk, 1.0)]})
    ModelVersion.objects.create(pk=7, algorithm="x")
    with django_capture_on_commit_callbacks(execute=True):
        response = contract(as_user.delete("/api/me/data/"))
    assert response.json() == {"interactions": 1, "impressions": 1}
    assert not Interaction.objects.filter(user=user).exists()
    assert Interaction.objects.filter(user=other_user).count() == 1
    assert cache.get_list(7, user.pk) is None
    assert AuditLog.objects.get(action="forget").actor == user


def test_my_data_needs_a_sign_in(api, contract):
    assert contract(api.get("/api/me/data/")).status_code in (401, 403)
    assert contract(api.delete("/api/me/data/")).status_code in (401, 403)
