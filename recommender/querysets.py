"""Query vocabulary of the app's models: filters named for what they select."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import F
from django.db.models.lookups import In
from django.utils import timezone

__all__ = [
    "AnyOf",
    "any_of",
    "CategoryQuerySet",
    "ItemQuerySet",
    "InteractionQuerySet",
    "ModelVersionQuerySet",
    "ImpressionQuerySet",
]


class AnyOf(In):
    """``field IN (values)``, sent to PostgreSQL as ``field = ANY(%s)`` with one array.

    The API's batches name up to 1,000 items, users and event ids: as an IN list of 1,000
    placeholders, psycopg spends longer parsing the query on the client than the database
    spends running it. Other databases get the plain IN list.
    """

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)
        values = [v for v in dict.fromkeys(self.rhs) if v is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        params = [field.get_db_prep_value(v, connection, prepared=True) for v in values]
        return f"{lhs} = ANY(%s::{field.cast_db_type(connection)}[])", (*lhs_params, params)


def any_of(field: str, values) -> AnyOf:
    """A filter: ``field`` is one of ``values`` (see AnyOf)."""
    return AnyOf(F(field), list(values))


class _CatalogueWrites(models.QuerySet):
    """Bulk writes that tell every process's item store (recommender.itemcache)."""

    def update(self, **kwargs) -> int:
        rows = super().update(**kwargs)
        _catalogue_changed(self.db)
        return rows

    update.alters_data = True

    def delete(self):
        result = super().delete()
        _catalogue_changed(self.db)
        return result

    delete.alters_data = True
    delete.queryset_only = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        _catalogue_changed(self.db)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs) -> int:
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        _catalogue_changed(self.db)
        return rows


class CategoryQuerySet(_CatalogueWrites):
    """Categories (their names and slugs are part of every served item)."""


class ItemQuerySet(_CatalogueWrites):
    def active(self) -> ItemQuerySet:
        return self.filter(is_active=True)

    def in_categories(self, slugs) -> ItemQuerySet:
        """Items in any of the given category slugs (an empty list selects everything)."""
        if not slugs:
            return self
        return self.filter(categories__slug__in=list(slugs)).distinct()

    def by_external_ids(self, external_ids) -> ItemQuerySet:
        return self.filter(external_id__in=list(external_ids))

    def linked_to(self, obj) -> ItemQuerySet:
        from django.contrib.contenttypes.models import ContentType

        ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        return self.filter(content_type=ct, object_id=str(obj.pk))


def _catalogue_changed(using: str) -> None:
    from .itemcache import changed

    changed(using)


class InteractionQuerySet(models.QuerySet):
    def for_user(self, user) -> InteractionQuerySet:
        return self.filter(user=user)

    def for_item(self, item) -> InteractionQuerySet:
        return self.filter(item=item)

    def since(self, when: datetime) -> InteractionQuerySet:
        return self.filter(timestamp__gte=when)

    def recent(self, days: float) -> InteractionQuerySet:
        return self.since(timezone.now() - timedelta(days=days))

    def of_type(self, *event_types: str) -> InteractionQuerySet:
        return self.filter(event_type__in=event_types)

    def positive(self) -> InteractionQuerySet:
        return self.exclude(event_type="dislike")

    def negative(self) -> InteractionQuerySet:
        return self.filter(event_type="dislike")

    def on_active_items(self) -> InteractionQuerySet:
        return self.filter(item__is_active=True)

    def from_recommendations(self) -> InteractionQuerySet:
        return self.exclude(rec_id="")


class ModelVersionQuerySet(models.QuerySet):
    def active(self) -> ModelVersionQuerySet:
        return self.filter(is_active=True)

    def ready(self) -> ModelVersionQuerySet:
        return self.filter(status="ready")

    def in_slot(self, slot: str) -> ModelVersionQuerySet:
        return self.filter(slot=slot)

    def retirable(self, keep: int, slot: str = "default") -> ModelVersionQuerySet:
        """Ready, inactive versions of a slot beyond the newest ``keep``."""
        newest = self.in_slot(slot).ready().order_by("-created_at").values("pk")[:keep]
        return self.in_slot(slot).ready().filter(is_active=False).exclude(pk__in=newest)


class ImpressionQuerySet(models.QuerySet):
    def since(self, when: datetime) -> ImpressionQuerySet:
        return self.filter(created_at__gte=when)

    def for_user(self, user) -> ImpressionQuerySet:
        return self.filter(user=user)
