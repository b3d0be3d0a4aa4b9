"""Models: readable names, constraints the database enforces, host-model sync."""

import pytest
from django.db import IntegrityError, transaction

from recommender.models import Interaction, Item, ItemRule, ModelVersion
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db


def test_str_are_readable(user, items):
    event = Interaction.objects.create(user=user, item=items[0], event_type="purchase")
    assert str(items[0]) == "Item 0 (i0)"
    assert "ann@example.com purchase Item 0" in str(event)
    version = ModelVersion.objects.create(algorithm="x.y.Popularity", status="ready")
    assert str(version) == f"#{version.pk} Popularity (ready)"


def test_external_id_is_unique(items):
    with pytest.raises(IntegrityError):
        Item.objects.create(external_id="i0", title="Again")


def test_database_refuses_unknown_event_type(user, items):
    with pytest.raises(IntegrityError), transaction.atomic():
        Interaction.objects.create(user=user, item=items[0], event_type="teleport")


def test_event_id_is_unique_per_user(user, other_user, items):
    Interaction.objects.create(user=user, item=items[0], event_type="view", event_id="e1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Interaction.objects.create(user=user, item=items[1], event_type="view", event_id="e1")
    # Another user's ids are their own.
    Interaction.objects.create(user=other_user, item=items[1], event_type="view", event_id="e1")
    # Many events without an event_id are fine.
    Interaction.objects.create(user=user, item=items[1], event_type="view")
    Interaction.objects.create(user=user, item=items[1], event_type="view")


def test_at_most_one_active_version_per_slot():
    ModelVersion.objects.create(algorithm="a", status="ready", is_active=True)
    ModelVersion.objects.create(algorithm="b", status="ready", is_active=True, slot="other")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(algorithm="c", status="ready", is_active=True)


def test_one_rule_per_item_and_category(items):
    ItemRule.objects.create(item=items[0], action="pin")
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemRule.objects.create(item=items[0], action="ban")


def test_queryset_vocabulary(user, other_user, items):
    items[9].is_active = False
    items[9].save()
    Interaction.objects.create(user=user, item=items[0], event_type="like")
    Interaction.objects.create(user=user, item=items[9], event_type="dislike")
    Interaction.objects.create(user=other_user, item=items[1], event_type="view")
    assert Interaction.objects.for_user(user).count() == 2
    assert Interaction.objects.for_user(user).positive().count() == 1
    assert Interaction.objects.for_user(user).on_active_items().count() == 1
    assert Item.objects.active().count() == 9
    assert set(Item.objects.in_categories(["music"]).values_list("external_id", flat=True)) == {
        "i5",
        "i6",
        "i7",
        "i8",
        "i9",
    }


def test_registered_host_model_keeps_item_in_sync():
    product = Product.objects.create(name="Blue mug", blurb="A mug", tags="Kitchen, Gifts")
    item = Item.objects.linked_to(product).get()
    assert item.external_id == f"testapp.product:{product.pk}"
    assert item.title == "Blue mug"
    assert item.url == f"/products/{product.pk}/"
    assert sorted(item.categories.values_list("name", flat=True)) == ["Gifts", "Kitchen"]
    assert item.content_object == product

    product.name, product.on_sale, product.tags = "Red mug", False, "Kitchen"
    product.save()
    item.refresh_from_db()
    assert (item.title, item.is_active) == ("Red mug", False)
    assert list(item.categories.values_list("name", flat=True)) == ["Kitchen"]
    assert Item.objects.count() == 1

    product.delete()
    assert not Item.objects.exists()


def test_one_item_per_host_object():
    product = Product.objects.create(name="Lamp")
    item = Item.objects.linked_to(product).get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(
            external_id="dup", title="dup", content_type=item.content_type, object_id=item.object_id
        )


def test_category_slugs_are_ascii_and_unique_whatever_the_name():
    import re

    from recommender.models import Category

    odd = Category.objects.create(name="\u0098")
    euro = Category.objects.create(name="€€")
    sci = Category.objects.create(name="Sci-Fi")
    sci2 = Category.objects.create(name="sci fi")
    slugs = [c.slug for c in (odd, euro, sci, sci2)]
    assert all(re.fullmatch(r"[-a-zA-Z0-9_]+", s) for s in slugs), slugs
    assert len(set(slugs)) == 4 and sci.slug == "sci-fi"
