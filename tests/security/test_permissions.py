"""Who may call what: every API operation for anonymous callers, users and staff, and the
cross-user cases (one user never reads, changes, exports or forgets another's data)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from recommender.models import AuditLog, Impression, Interaction, Item, ModelVersion

from .conftest import client_for

pytestmark = pytest.mark.django_db

DENIED = {401, 403}
OPEN = {"anon": 200, "user": 200, "token": 200, "staff": 200}
STAFF_ONLY = {"anon": DENIED, "user": 403, "token": 403, "staff": None}
SIGNED_IN = {"anon": DENIED, "user": None, "token": None, "staff": None}

# Every operation of the schema: (method, path, body, answers by role). None: the success
# status given last. Paths name Bob's id, item i1 and version {version}.
ITEM = {"external_id": "new-1", "title": "New", "categories": ["Books"]}
OPERATIONS = [
    ("get", "/api/recommendations/", None, OPEN),
    ("get", "/api/users/{bob}/recommendations/", None, {**STAFF_ONLY, "staff": 200}),
    ("get", "/api/items/", None, OPEN),
    ("post", "/api/items/", ITEM, {**STAFF_ONLY, "staff": 201}),
    ("get", "/api/items/{item}/", None, OPEN),
    ("put", "/api/items/{item}/", {**ITEM, "external_id": "i1"}, {**STAFF_ONLY, "staff": 200}),
    ("patch", "/api/items/{item}/", {"title": "Changed"}, {**STAFF_ONLY, "staff": 200}),
    ("delete", "/api/items/{item}/", None, {**STAFF_ONLY, "staff": 204}),
    ("get", "/api/items/{item}/similar/", None, OPEN),
    ("get", "/api/items/popular/", None, OPEN),
    (
        "post",
        "/api/interactions/",
        {"item": "i3", "event_type": "view"},
        {**SIGNED_IN, "user": 201, "token": 201, "staff": 201},
    ),
    ("get", "/api/models/", None, {**STAFF_ONLY, "staff": 200}),
    ("get", "/api/models/{version}/", None, {**STAFF_ONLY, "staff": 200}),
    ("post", "/api/models/train/", {}, {**STAFF_ONLY, "staff": 202}),
    ("get", "/api/me/data/", None, {**SIGNED_IN, "user": 200, "token": 200, "staff": 200}),
    ("delete", "/api/me/data/", None, {**SIGNED_IN, "user": 200, "token": 200, "staff": 200}),
    ("get", "/api/schema/", None, OPEN),
    ("post", "/api/token/", {"username": "ann@example.com", "password": "pw-ann-123"}, OPEN),
]
ROLES = ["anon", "user", "token", "staff"]


def fingerprint() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        sorted(Item.objects.values_list("external_id", "title", "is_active")),
        sorted(Interaction.objects.values_list("user_id", "item_id", "event_type", "event_id")),
        Impression.objects.count(),
        ModelVersion.objects.count(),
        AuditLog.objects.count(),
    )


@pytest.fixture
def world(user, other_user, staff, footprints):
    version = ModelVersion.objects.create(algorithm="test", status="ready")
    return {"bob": other_user.pk, "item": "i1", "version": version.pk}


def _client(role, user, staff) -> APIClient:
    return {
        "anon": lambda: client_for(None),
        "user": lambda: client_for(user),
        "token": lambda: client_for(user, token=True),
        "staff": lambda: client_for(staff),
    }[role]()


def test_the_matrix_covers_every_operation_of_the_schema(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    documented = {
        (method, path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    }
    covered = {
        (
            m,
            p.replace("{bob}", "{user_id}")
            .replace("{item}", "{external_id}")
            .replace("{version}", "{id}"),
        )
        for m, p, _, _ in OPERATIONS
    }
    assert covered == documented


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method,path,body,answers", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _, _ in OPERATIONS]
)
def test_each_role_gets_exactly_what_it_may(
    role, method, path, body, answers, world, user, staff, django_capture_on_commit_callbacks
):
    client = _client(role, user, staff)
    before = fingerprint()
    with django_capture_on_commit_callbacks(execute=False):
        response = getattr(client, method)(path.format(**world), body, format="json")
    expected = answers[role]
    if isinstance(expected, set):
        assert response.status_code in expected, response.content
        assert fingerprint() == before, "a refused request changed something"
        assert "detail" in response.json()
    else:
        assert response.status_code == expected, response.content


# -- one user and another's data -------------------------------------------------------------


def test_my_list_is_never_another_users_cached_list(user, other_user, bobs_cached_list):
    for query in ({}, {"user": other_user.pk}, {"user_id": other_user.pk}):
        body = client_for(user).get("/api/recommendations/", query).json()
        assert body["source"] == "popular"
        assert [r["external_id"] for r in body["results"]][:3] != bobs_cached_list
    own = client_for(other_user).get("/api/recommendations/").json()
    assert own["source"] == "cached"
    assert [r["external_id"] for r in own["results"]] == bobs_cached_list


def test_reading_anothers_list_is_refused_and_leaves_no_trace(user, other_user, bobs_cached_list):
    for client in (client_for(user), client_for(user, token=True), client_for(None)):
        response = client.get(f"/api/users/{other_user.pk}/recommendations/")
        assert response.status_code in DENIED
        assert "i9" not in response.content.decode()
    assert not Impression.objects.filter(user=other_user).exists()


def test_my_export_holds_my_data_only(user, other_user, footprints):
    Impression.objects.create(user=other_user, item_ids=["i1"], placement="t")
    body = client_for(user).get("/api/me/data/").json()
    assert body["user"] == str(user.pk)
    assert sorted(e["event_id"] for e in body["interactions"]) == footprints["ann"]
    assert body["impressions"] == 1
    for query in ({"user": other_user.pk}, {"user_id": other_user.pk}):
        again = client_for(user).get("/api/me/data/", query).json()
        assert again["user"] == str(user.pk) and len(again["interactions"]) == 2


def test_forgetting_me_leaves_everyone_else_intact(
    user, other_user, footprints, bobs_cached_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).delete("/api/me/data/", {"user": other_user.pk}, format="json")
    assert response.json() == {"interactions": 2, "impressions": 1}
    assert not Interaction.objects.filter(user=user).exists()
    assert (
        sorted(Interaction.objects.filter(user=other_user).values_list("event_id", flat=True))
        == footprints["bob"]
    )
    assert Impression.objects.filter(user=other_user).count() == 1
    bobs = client_for(other_user).get("/api/recommendations/").json()
    assert [r["external_id"] for r in bobs["results"]] == bobs_cached_list


@pytest.mark.parametrize(
    "claim",
    [str, int, lambda pk: f" {pk}", lambda pk: f"0{pk}", float],
    ids=["str", "int", "padded", "leading-zero", "float"],
)
def test_recording_an_event_for_another_user_is_refused_whole(user, other_user, items, claim):
    value = claim(other_user.pk)
    batch = [
        {"item": "i0", "event_type": "view", "event_id": "fine"},
        {"item": "i1", "event_type": "purchase", "user": value},
    ]
    for client in (client_for(user), client_for(user, token=True)):
        response = client.post("/api/interactions/", batch, format="json")
        assert response.status_code == 403 and "user" in response.json()
    assert not Interaction.objects.exists()


def test_events_without_a_user_are_mine(user, other_user, items):
    response = client_for(user).post(
        "/api/interactions/",
        [
            {"item": "i0", "event_type": "view"},
            {"item": "i1", "event_type": "view", "user": user.pk},
        ],
        format="json",
    )
    assert response.status_code == 201
    assert set(Interaction.objects.values_list("user_id", flat=True)) == {user.pk}


def test_an_event_id_of_another_user_does_not_touch_their_event(user, other_user, footprints):
    response = client_for(user).post(
        "/api/interactions/",
        {"item": "i3", "event_type": "dislike", "event_id": "bob-1"},
        format="json",
    )
    assert response.status_code == 201 and not response.json()["duplicates"]
    bobs = Interaction.objects.get(user=other_user, event_id="bob-1")
    assert (bobs.item.external_id, bobs.event_type) == ("i5", "purchase")
    mine = Interaction.objects.get(user=user, event_id="bob-1")
    assert (mine.item.external_id, mine.event_type) == ("i3", "dislike")


def test_one_user_cannot_preempt_another_users_event_id(user, other_user, items):
    client_for(user).post(
        "/api/interactions/",
        {"item": "i0", "event_type": "view", "event_id": "bob-next"},
        format="json",
    )
    response = client_for(other_user).post(
        "/api/interactions/",
        {"item": "i5", "event_type": "purchase", "event_id": "bob-next"},
        format="json",
    )
    assert response.status_code == 201
    assert Interaction.objects.filter(user=other_user, event_id="bob-next").exists()


# -- authentication edges --------------------------------------------------------------------


def test_a_deactivated_users_token_stops_working(user, items):
    client = client_for(user, token=True)
    assert client.get("/api/me/data/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/me/data/").status_code in DENIED
    assert (
        client.post(
            "/api/interactions/", {"item": "i0", "event_type": "view"}, format="json"
        ).status_code
        in DENIED
    )
    assert not Interaction.objects.exists()


def test_a_forged_token_is_refused(items):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/recommendations/").status_code in DENIED


def test_a_token_is_only_given_for_the_right_password(user, other_user):
    wrong = APIClient().post(
        "/api/token/", {"username": other_user.email, "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400 and "token" not in wrong.json()
    right = APIClient().post(
        "/api/token/", {"username": user.email, "password": "pw-ann-123"}, format="json"
    )
    assert right.status_code == 200 and len(right.json()["token"]) == 40


def test_staff_record_events_for_others_but_users_never_reach_staff_views(
    user, staff, other_user, items
):
    response = client_for(staff).post(
        "/api/interactions/",
        {"item": "i2", "event_type": "view", "user": other_user.pk},
        format="json",
    )
    assert response.status_code == 201
    assert Interaction.objects.get().user == other_user
    for path in (
        "/admin/",
        "/admin/recommender/modelversion/",
        "/admin/recommender/modelversion/dashboard/",
        "/admin/recommender/interaction/",
    ):
        answer = client_for(user).get(path)
        assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
