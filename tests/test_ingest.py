"""Recording events: bad input refused naming its field; batches atomic and idempotent."""

import pytest
from django.core.exceptions import ValidationError

from recommender import services
from recommender.models import Impression, Interaction, ModelVersion

pytestmark = pytest.mark.django_db


def test_record_one_interaction(user, items):
    event = services.record_interaction(user, items[0], "rating", value=4)
    assert (event.user, event.item, event.value) == (user, items[0], 4.0)


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"item": "nope", "event_type": "view"}, "item", "Unknown item"),
        ({"item": "i0", "event_type": "teleport"}, "event_type", "Unknown event type"),
        ({"item": "i0", "event_type": "rating", "value": 9}, "value", "out of range"),
        ({"item": "i0", "event_type": "rating"}, "value", "needs a value"),
        ({"item": "i0", "event_type": "view", "value": "lots"}, "value", "number"),
        ({"item": "i0", "event_type": "view", "timestamp": "yesterday"}, "timestamp", "ISO 8601"),
        ({"item": "i0", "event_type": "view", "user": 987654}, "user", "Unknown user"),
        ({"item": "i0", "event_type": "view", "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_event_is_refused_naming_the_field(user, items, event, field, words):
    result = services.record_events([event], user=user)
    assert not result.created
    (rejected,) = result.rejected
    assert field in rejected["errors"]
    assert words in " ".join(rejected["errors"][field])
    assert not Interaction.objects.exists()


def test_record_interaction_raises_validation_error(user, items):
    with pytest.raises(ValidationError) as exc:
        services.record_interaction(user, "missing", "view")
    assert "item" in exc.value.message_dict


def test_valid_events_of_a_batch_are_stored_and_bad_ones_are_not(user, items):
    result = services.record_events(
        [
            {"item": "i0", "event_type": "view", "event_id": "a"},
            {"item": "zzz", "event_type": "view", "event_id": "b"},
            {"item": "i1", "event_type": "purchase", "timestamp": "2026-01-02T03:04:05Z"},
        ],
        user=user,
    )
    assert [c["index"] for c in result.as_dict()["created"]] == [0, 2]
    assert [r["index"] for r in result.rejected] == [1]
    assert set(Interaction.objects.values_list("item__external_id", flat=True)) == {"i0", "i1"}
    assert Interaction.objects.get(item__external_id="i1").timestamp.year == 2026


def test_retried_batch_is_idempotent(user, items):
    batch = [
        {"item": "i0", "event_type": "view", "event_id": "e-1"},
        {"item": "i1", "event_type": "like", "event_id": "e-2"},
    ]
    first = services.record_events(batch, user=user)
    again = services.record_events(batch, user=user)
    assert len(first.created) == 2 and not first.duplicates
    assert not again.created
    assert [d["event_id"] for d in again.duplicates] == ["e-1", "e-2"]
    assert Interaction.objects.count() == 2


def test_duplicate_event_id_inside_one_batch(user, items):
    result = services.record_events(
        [
            {"item": "i0", "event_type": "view", "event_id": "x"},
            {"item": "i1", "event_type": "view", "event_id": "x"},
        ],
        user=user,
    )
    assert len(result.created) == 1
    assert result.duplicates == [{"index": 1, "event_id": "x"}]


def test_replayed_single_event_returns_the_stored_one(user, items):
    first = services.record_interaction(user, items[0], "view", event_id="once")
    second = services.record_interaction(user, items[0], "view", event_id="once")
    assert first.pk == second.pk


def test_trusted_caller_can_name_the_user(user, other_user, items):
    result = services.record_events([{"item": "i2", "event_type": "view", "user": other_user.pk}])
    assert result.created[0].user == other_user


def test_click_from_a_tracked_list_links_the_model_version(user, items):
    version = ModelVersion.objects.create(algorithm="a", status="ready")
    Impression.objects.create(rec_id="r1", user=user, model_version=version, item_ids=["i0"])
    event = services.record_interaction(user, items[0], "click", rec_id="r1")
    assert event.source_version == version


def test_rows_built_positionally_match_rows_built_by_keyword():
    """record_events builds its rows through the ORM's positional fast path: every field must
    land where keywords would have put it (a new field with a default included)."""
    from django.utils import timezone

    from recommender.ingest import _ROW, _new_row

    when = timezone.now()
    values = (3, 4, "rating", 4.5, when, "e-1", "r-1")
    fast, slow = _new_row(*values), Interaction(**dict(zip(_ROW, values, strict=True)))
    for f in Interaction._meta.concrete_fields:
        assert getattr(fast, f.attname) == getattr(slow, f.attname), f.attname


def test_several_batches_in_one_transaction(items, user, other_user):
    """A host may record batches inside its own transaction (ATOMIC_REQUESTS, an import):
    each batch stores exactly its own events, and repeats are told apart across batches."""
    from django.db import transaction

    with transaction.atomic():
        first = services.record_events(
            [{"item": "i1", "event_type": "view", "event_id": "a"}], user=user
        )
        second = services.record_events(
            [
                {"item": "i2", "event_type": "like", "event_id": "b"},
                {"item": "i3", "event_type": "view"},
            ],
            user=other_user,
        )
        again = services.record_events(
            [
                {"item": "i2", "event_type": "like", "event_id": "b"},
                {"item": "i1", "event_type": "view", "event_id": "b"},
            ],
            user=other_user,
        )
    assert [len(first.created), len(second.created)] == [1, 2]
    assert again.created == [] and sorted(d["index"] for d in again.duplicates) == [0, 1]
    rows = Interaction.objects.order_by("pk").values_list("user", "item__external_id", "event_id")
    assert list(rows) == [
        (user.pk, "i1", "a"),
        (other_user.pk, "i2", "b"),
        (other_user.pk, "i3", None),
    ]


def test_stored_events_come_back_as_saved_rows(items, user):
    result = services.record_events(
        [{"item": "i4", "event_type": "rating", "value": 4.5, "rec_id": "r1"}], user=user
    )
    (event,) = result.created
    assert event.pk and not event._state.adding
    stored = Interaction.objects.get(pk=event.pk)
    assert stored.created_at is not None and stored.timestamp == event.timestamp
    assert (stored.event_type, stored.value, stored.rec_id, stored.item) == (
        "rating",
        4.5,
        "r1",
        items[4],
    )
