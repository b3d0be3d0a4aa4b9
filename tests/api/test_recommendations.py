"""GET /api/recommendations/ and /api/users/{id}/recommendations/: answers, rules, bad input."""

import uuid

import pytest

from recommender.models import Impression, Interaction, ModelVersion
from tests.conftest import plant_lists

pytestmark = pytest.mark.django_db

URL = "/api/recommendations/"


def ids(response):
    return [r["external_id"] for r in response.json()["results"]]


def test_anonymous_callers_get_popular_items(api, planted, contract):
    response = contract(api.get(URL, {"limit": 5}))
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "popular" and body["model_version"] is None
    assert len(body["results"]) == 5
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_signed_in_user_gets_a_computed_list_in_their_taste(
    api, trained_version, planted, contract
):
    user = planted["users"][0]
    api.force_authenticate(user)
    response = contract(api.get(URL, {"limit": 4}))
    body = response.json()
    assert body["source"] == "computed"
    assert body["model_version"] == trained_version.pk
    seen = set(Interaction.objects.for_user(user).values_list("item__external_id", flat=True))
    assert not seen & set(ids(response)), "seen items are excluded by default"
    favourite = planted["taste"][user.pk]
    assert [c["name"] for r in body["results"] for c in r["categories"]].count(favourite) >= 3
    first = body["results"][0]
    assert set(first) == {"external_id", "title", "categories", "url", "score", "rec_id"}
    assert first["rec_id"] == body["rec_id"] and len(body["rec_id"]) == 32


def test_cached_list_is_served_in_its_order(api, planted, cached_lists, contract):
    user = planted["users"][1]
    order = cached_lists(user, ["games-3", "books-7", "music-1", "books-2"])
    api.force_authenticate(user)
    response = contract(api.get(URL, {"limit": 3}))
    assert response.json()["source"] == "cached"
    assert ids(response) == order[:3]


def test_each_answer_is_tracked_as_an_impression(api, planted, cached_lists, trained_version):
    user = planted["users"][1]
    cached_lists(user, ["games-3", "books-7", "music-1"])
    api.force_authenticate(user)
    body = api.get(URL).json()
    shown = Impression.objects.get(rec_id=body["rec_id"])
    assert shown.user == user and shown.model_version == trained_version
    assert (shown.placement, shown.source) == ("api:recommendations", "cached")
    assert shown.item_ids == ["games-3", "books-7", "music-1"]


def _redis_commands(redis_url: str, prefix: str, action) -> tuple[list[str], list[str]]:
    """The Redis commands that touched keys under ``prefix`` while ``action`` ran, as the
    server's MONITOR saw them (a real count of round trips, whatever the client does): those
    the clients sent, and those scripts ran on the server."""
    import redis

    server = redis.Redis.from_url(redis_url)
    end = f"{prefix}:end-of-action-{uuid.uuid4().hex}"
    sent, scripted = [], []
    with server.monitor() as monitor:
        action()
        server.get(end)
        while end not in (seen := monitor.next_command())["command"]:
            if prefix in seen["command"]:
                (scripted if seen["client_type"] == "lua" else sent).append(seen["command"])
    return sent, scripted


def _names(commands: list[str]) -> list[str]:
    return [c.split()[0].strip('"').upper() for c in commands]


def test_a_cached_answer_is_one_round_trip_with_the_throttle(
    real_redis, api, planted, cached_lists, trained_version
):
    user = planted["users"][1]
    order = cached_lists(user, ["games-3", "books-7", "music-1", "books-2"])
    api.force_authenticate(user)
    assert api.get(URL).json()["source"] == "cached"  # this process has now met the pointer
    answers = []
    sent, scripted = _redis_commands(
        real_redis["url"], real_redis["prefix"], lambda: answers.append(api.get(URL, {"limit": 3}))
    )
    assert answers[0].json()["source"] == "cached" and ids(answers[0]) == order[:3]
    # One script counts the request in the throttle's log and reads the list and its small
    # values; nothing else reaches the cache.
    assert _names(sent) == ["EVALSHA"], sent
    assert f"throttle_user_{user.pk}:log" in sent[0]
    assert f"list:{trained_version.pk}:{user.pk}" in sent[0]
    assert "LPUSH" in _names(scripted) and "MGET" in _names(scripted), scripted


def test_without_throttling_a_cached_answer_is_one_read(
    real_redis, settings, api, planted, cached_lists
):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"anon": None, "user": None}}
    user = planted["users"][1]
    order = cached_lists(user, ["games-3", "books-7", "music-1"])
    api.force_authenticate(user)
    api.get(URL)
    answers = []
    sent, scripted = _redis_commands(
        real_redis["url"], real_redis["prefix"], lambda: answers.append(api.get(URL))
    )
    assert ids(answers[0]) == order
    assert (_names(sent), scripted) == (["MGET"], []), sent


@pytest.mark.parametrize("on_redis", [False, True], ids=["locmem", "redis"])
def test_the_throttle_still_counts_answers_read_with_it(
    on_redis, request, settings, api, planted, cached_lists
):
    if on_redis:
        request.getfixturevalue("real_redis")
    settings.RECOMMENDER = {**settings.RECOMMENDER, "THROTTLE_RATES": {"user": "2/minute"}}
    user = planted["users"][1]
    cached_lists(user, ["games-3", "books-7"])
    api.force_authenticate(user)
    answers = [api.get(URL) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.json()["source"] for a in answers[:2]] == ["cached", "cached"]
    assert Impression.objects.count() == 2, "the refused request showed nothing"


def test_a_moved_pointer_is_followed_on_the_next_answer(api, planted, trained_version):
    user = planted["users"][1]
    plant_lists(trained_version.pk, user, ["games-3", "books-7"])
    api.force_authenticate(user)
    assert ids(api.get(URL, {"limit": 2})) == ["games-3", "books-7"]
    newer = ModelVersion.objects.create(algorithm="newer", status="ready")
    plant_lists(newer.pk, user, ["music-1", "books-2"])  # and the pointer moves to it
    body = api.get(URL, {"limit": 2}).json()
    assert [r["external_id"] for r in body["results"]] == ["music-1", "books-2"]
    assert (body["source"], body["model_version"]) == ("cached", newer.pk)


def test_category_filter_and_explicit_exclusions(api, trained_version, planted, contract):
    api.force_authenticate(planted["users"][3])
    response = contract(
        api.get(
            URL,
            [
                ("category", "music"),
                ("exclude", "music-0,music-1"),
                ("exclude", "music-2"),
                ("limit", 12),
            ],
        )
    )
    assert response.status_code == 200
    got = ids(response)
    assert got and all(e.startswith("music-") for e in got)
    assert not {"music-0", "music-1", "music-2"} & set(got)


def test_several_categories_select_items_in_any_of_them(api, planted):
    response = api.get(URL, [("category", "books"), ("category", "games"), ("limit", 30)])
    prefixes = {e.split("-")[0] for e in ids(response)}
    assert prefixes == {"books", "games"}


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 101}, "limit", "less than or equal to 100"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"category": "kites"}, "category", "Unknown category: kites"),
        ({"category": "no spaces"}, "category", "Unknown category: no spaces"),
        ({"exclude": "books-1,nope"}, "exclude", "Unknown item: nope"),
    ],
)
def test_bad_query_is_a_400_naming_the_parameter(api, planted, contract, query, field, words):
    response = contract(api.get(URL, query))
    assert response.status_code == 400
    assert words in " ".join(str(m) for m in response.json()[field])
    assert not Impression.objects.exists()


def test_limit_is_bounded_by_the_setting(api, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "MAX_LIMIT": 3}
    assert api.get(URL, {"limit": 4}).status_code == 400
    assert len(ids(api.get(URL, {"limit": 3}))) == 3


def test_default_limit_comes_from_the_setting(api, planted, settings):
    settings.RECOMMENDER = {**settings.RECOMMENDER, "DEFAULT_LIMIT": 7}
    assert len(ids(api.get(URL))) == 7


def test_inactive_items_are_never_recommended(api, trained_version, planted):
    user = planted["users"][0]
    api.force_authenticate(user)
    first = ids(api.get(URL, {"limit": 3}))
    planted["items"][planted["taste"][user.pk]][0].__class__.objects.filter(
        external_id=first[0]
    ).update(is_active=False)
    assert first[0] not in ids(api.get(URL, {"limit": 10}))


def test_token_authentication(token_client, user, planted):
    response = token_client.get(URL)
    assert response.status_code == 200
    assert Impression.objects.get(rec_id=response.json()["rec_id"]).user == user


# -- another user's list ---------------------------------------------------------------------


def test_staff_read_any_users_list(as_staff, planted, trained_version, contract):
    user = planted["users"][2]
    response = contract(as_staff.get(f"/api/users/{user.pk}/recommendations/", {"limit": 3}))
    assert response.status_code == 200
    assert response.json()["model_version"] == trained_version.pk
    assert Impression.objects.get(rec_id=response.json()["rec_id"]).placement == (
        "api:user-recommendations"
    )


def test_a_user_cannot_read_another_users_list(as_user, other_user, items, contract):
    response = contract(as_user.get(f"/api/users/{other_user.pk}/recommendations/"))
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]


def test_anonymous_cannot_read_a_users_list(api, user, contract):
    response = contract(api.get(f"/api/users/{user.pk}/recommendations/"))
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("user_id", ["987654", "not-a-number"])
def test_unknown_user_is_a_404_naming_it(as_staff, user_id, contract):
    response = contract(as_staff.get(f"/api/users/{user_id}/recommendations/"))
    assert response.status_code == 404
    assert user_id in response.json()["user_id"][0]


def test_a_token_is_obtained_with_the_users_credentials(api, user):
    response = api.post("/api/token/", {"username": "ann@example.com", "password": "pw-ann-123"})
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/me/data/").json()["user"] == str(user.pk)
    refused = api.post("/api/token/", {"username": "ann@example.com", "password": "wrong"})
    assert refused.status_code == 400 and refused.json()["non_field_errors"]
