"""Catalogue upkeep: keep Item rows in sync with host models named in ITEM_MODELS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from .conf import app_settings
from .models import Category, Item

__all__ = ["spec_for", "sync_item", "unsync_item", "set_categories"]

FIELDS = ("title", "description", "categories", "url", "is_active", "properties")


def spec_for(model: type) -> dict[str, Any] | None:
    """The ITEM_MODELS entry of a host model class, or None when it is not registered."""
    label = model._meta.label
    specs = app_settings.ITEM_MODELS
    return specs.get(label) or specs.get(label.lower())


def _read(obj: Any, source: Any) -> Any:
    value = source(obj) if callable(source) else getattr(obj, source)
    return value() if callable(value) else value


def _values(obj: Any, spec: dict[str, Any]) -> dict[str, Any]:
    values = {name: _read(obj, spec[name]) for name in FIELDS if name in spec}
    if "url" not in values and hasattr(obj, "get_absolute_url"):
        values["url"] = obj.get_absolute_url()
    values["title"] = str(values["title"])[:500]
    return values


def set_categories(item: Item, names: Iterable[str]) -> None:
    """Replace an item's categories by name, creating the categories that are new."""
    cats = [Category.objects.get_or_create(name=str(n)[:200])[0] for n in names if str(n).strip()]
    item.categories.set(cats)


@transaction.atomic
def sync_item(obj: Any) -> Item | None:
    """Create or update the Item that stands for a registered host object."""
    spec = spec_for(type(obj))
    if spec is None:
        return None
    values = _values(obj, spec)
    categories = values.pop("categories", None)
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    external_id = (
        _read(obj, spec["external_id"])
        if "external_id" in spec
        else (f"{ct.app_label}.{ct.model}:{obj.pk}")
    )
    item, _ = Item.objects.update_or_create(
        content_type=ct,
        object_id=str(obj.pk),
        defaults={"external_id": str(external_id), **values},
    )
    if categories is not None:
        set_categories(item, categories)
    return item


def unsync_item(obj: Any) -> int:
    """Delete the Item of a deleted host object; returns how many rows went."""
    if spec_for(type(obj)) is None:
        return 0
    return Item.objects.linked_to(obj).delete()[0]
