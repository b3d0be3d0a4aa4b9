"""Forget a user and export their data from the admin: everything goes, and both are audited."""

import json

import pytest
from django.urls import reverse

from recommender import cache
from recommender.models import AuditLog, Impression, Interaction, ModelVersion

from .conftest import track

pytestmark = pytest.mark.django_db


@pytest.fixture
def footprint(user, other_user, items, db):
    """Interactions, tracked lists and cached lists of ``user`` (and of someone else)."""
    version = ModelVersion.objects.create(pk=99, algorithm="x.A", status="ready")
    for who in (user, other_user):
        for item in items[:4]:
            Interaction.objects.create(user=who, item=item, event_type="view")
        track(who, items[4:7], clicks=[items[4]])
        cache.set_lists(version.pk, {who.pk: [(items[8].pk, 1.0)]})
    return user


def test_forget_view_confirms_then_removes_everything_and_audits(
    client, staff, footprint, other_user, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    url = reverse("admin:recommender_forget_user", args=[footprint.pk])
    confirm = client.get(url)
    assert confirm.context["interactions"] == 5 and confirm.context["impressions"] == 1
    assert Interaction.objects.for_user(footprint).count() == 5  # a GET deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302 and f"?user={footprint.pk}" in response["Location"]
    assert not Interaction.objects.for_user(footprint).exists()
    assert not Impression.objects.for_user(footprint).exists()
    assert cache.get_list(99, footprint.pk) is None
    # Other users keep theirs; the account itself stays.
    assert Interaction.objects.for_user(other_user).count() == 5
    assert cache.get_list(99, other_user.pk) is not None
    footprint.refresh_from_db()
    log = AuditLog.objects.get(action="forget")
    assert log.actor == staff and str(footprint.pk) in log.subject
    assert log.detail == {"interactions": 5, "impressions": 1}


def test_export_downloads_json_and_is_audited(client, staff, footprint):
    client.force_login(staff)
    response = client.post(reverse("admin:recommender_export_user", args=[footprint.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="recommender-user-{footprint.pk}.json"'
    )
    data = json.loads(response.content)
    assert len(data["interactions"]) == 5 and data["impressions"] == 1
    assert {row["item"] for row in data["interactions"]} == {"i0", "i1", "i2", "i3", "i4"}
    log = AuditLog.objects.get(action="export")
    assert log.actor == staff and log.detail == {"interactions": 5}


def test_forget_action_on_interactions_asks_then_forgets_their_users(
    client, staff, footprint, other_user, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    url = reverse("admin:recommender_interaction_changelist")
    selected = list(Interaction.objects.for_user(footprint).values_list("pk", flat=True)[:2])
    form = {"action": "forget_their_users", "_selected_action": selected}
    confirm = client.post(url, form)
    assert confirm.status_code == 200 and list(confirm.context["users"]) == [footprint]
    assert Interaction.objects.for_user(footprint).count() == 5
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**form, "confirm": "yes"})
    assert not Interaction.objects.for_user(footprint).exists()
    assert Interaction.objects.for_user(other_user).count() == 5
    assert AuditLog.objects.filter(action="forget", actor=staff).count() == 1


def test_forget_needs_the_delete_permission(client, django_user_model, footprint):
    from django.contrib.auth.models import Permission

    editor = django_user_model.objects.create_user("ed@example.com", "pw", is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="view_interaction"))
    client.force_login(editor)
    url = reverse("admin:recommender_forget_user", args=[footprint.pk])
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert Interaction.objects.for_user(footprint).count() == 5
    assert not AuditLog.objects.exists()


def test_host_user_admin_can_use_the_actions(
    rf, staff, footprint, django_user_model, django_capture_on_commit_callbacks
):
    from django.contrib import admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    from recommender.admin import export_users, forget_users

    class MemberAdmin(admin.ModelAdmin):
        actions = [forget_users, export_users]

    model_admin = MemberAdmin(django_user_model, admin.site)
    request = rf.post("/", {"confirm": "yes"})
    request.user, request.session = staff, {}
    request._messages = FallbackStorage(request)
    users = django_user_model.objects.filter(pk=footprint.pk)
    exported = export_users(model_admin, request, users)
    assert json.loads(exported.content)["user"] == str(footprint.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert forget_users(model_admin, request, users) is None
    assert not Interaction.objects.for_user(footprint).exists()
    assert list(AuditLog.objects.values_list("action", flat=True).order_by("pk")) == [
        "export",
        "forget",
    ]
