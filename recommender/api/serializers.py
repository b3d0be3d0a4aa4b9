"""Shapes of the API: what each endpoint accepts and returns, as documented in the schema.

Recommendation lists are on the hot path, so their serializers declare their fields for the
schema but build the response with plain dicts (the contract tests keep the two in step).
"""

from __future__ import annotations

from rest_framework import serializers

from .. import services
from ..conf import app_settings
from ..models import Category, EventType, Item, ModelVersion
from ..serving import RecommendationList

__all__ = [
    "CategorySerializer",
    "ItemSerializer",
    "ItemWriteSerializer",
    "ListQuerySerializer",
    "ItemListQuerySerializer",
    "RecommendationListSerializer",
    "list_payload",
    "EventSerializer",
    "IngestResultSerializer",
    "ModelVersionSerializer",
    "ModelVersionDetailSerializer",
    "TrainRequestSerializer",
    "ExportSerializer",
    "ForgetSerializer",
    "ErrorSerializer",
]


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer: ``detail``, or messages keyed by the field (or query
    parameter) at fault, ``non_field_errors`` for the body as a whole (documentation only)."""

    detail = serializers.CharField(required=False, help_text="What went wrong.")
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


# -- catalogue -------------------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer):
    categories = CategorySerializer(many=True, read_only=True)
    url = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="The item's page on the host site, when it has one.",
    )

    class Meta:
        model = Item
        fields = [
            "external_id",
            "title",
            "description",
            "categories",
            "url",
            "properties",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, item: Item) -> dict:
        data = super().to_representation(item)
        data["url"] = item.url or None
        return data


class ItemWriteSerializer(serializers.ModelSerializer):
    """What staff send to create or change an item; categories are names, created when new."""

    categories = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="Category names; unknown ones are created.",
    )
    properties = serializers.DictField(required=False)

    class Meta:
        model = Item
        fields = [
            "external_id",
            "title",
            "description",
            "categories",
            "url",
            "properties",
            "is_active",
        ]

    def create(self, validated_data: dict) -> Item:
        names = validated_data.pop("categories", None)
        item = super().create(validated_data)
        if names is not None:
            services.set_categories(item, names)
        return item

    def update(self, item: Item, validated_data: dict) -> Item:
        names = validated_data.pop("categories", None)
        item = super().update(item, validated_data)
        if names is not None:
            services.set_categories(item, names)
        return item

    def to_representation(self, item: Item) -> dict:
        return ItemSerializer(item, context=self.context).data


# -- query parameters ------------------------------------------------------------------------


class _LimitMixin(serializers.Serializer):
    def get_fields(self) -> dict:
        # Built per use, so the bound follows RECOMMENDER["MAX_LIMIT"] (and the schema shows it).
        fields = super().get_fields()
        fields["limit"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=app_settings.MAX_LIMIT,
            help_text=f"How many items; default {app_settings.DEFAULT_LIMIT}.",
        )
        return fields


class ItemListQuerySerializer(serializers.Serializer):
    category = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=50,
        help_text="Category slug; repeat the parameter for several (items in any of them).",
    )

    def validate_category(self, slugs: list[str]) -> list[str]:
        slugs = list(dict.fromkeys(slugs))
        known = set(Category.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        unknown = [s for s in slugs if s not in known]
        if unknown:
            raise serializers.ValidationError(f"Unknown category: {', '.join(unknown)}.")
        return slugs


class ListQuerySerializer(_LimitMixin, ItemListQuerySerializer):
    """Query of every recommendation list: limit, categories and explicit exclusions."""

    exclude = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        help_text="External id of an item to leave out; repeat or separate with commas.",
    )

    def validate_exclude(self, values: list[str]) -> list[str]:
        ids = list(dict.fromkeys(v.strip() for raw in values for v in raw.split(",") if v.strip()))
        if len(ids) > app_settings.MAX_BATCH:
            raise serializers.ValidationError(
                f"At most {app_settings.MAX_BATCH} items can be excluded."
            )
        known = set(Item.objects.by_external_ids(ids).values_list("external_id", flat=True))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise serializers.ValidationError(f"Unknown item: {', '.join(unknown[:10])}.")
        return ids

    def to_options(self) -> dict:
        data = self.validated_data
        return {
            "limit": data.get("limit", app_settings.DEFAULT_LIMIT),
            "categories": data.get("category", []),
            "exclude": data.get("exclude", []),
        }


# -- recommendation lists --------------------------------------------------------------------


class RecommendationSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    title = serializers.CharField()
    categories = CategorySerializer(many=True)
    url = serializers.CharField(
        allow_null=True, help_text="The item's page on the host site, when it has one."
    )
    score = serializers.FloatField(help_text="Higher is better; comparable within one list.")
    rec_id = serializers.CharField(help_text="The list this result belongs to (for tracking).")


class RecommendationListSerializer(serializers.Serializer):
    rec_id = serializers.CharField(
        help_text="Identifies this list: send it with events that follow from it."
    )
    source = serializers.ChoiceField(choices=["cached", "computed", "popular"])
    model_version = serializers.IntegerField(allow_null=True)
    experiment = serializers.IntegerField(allow_null=True)
    arm = serializers.CharField(allow_blank=True)
    results = RecommendationSerializer(many=True)

    def to_representation(self, answer: RecommendationList) -> dict:
        return list_payload(answer)


def list_payload(answer: RecommendationList) -> dict:
    """The body of a recommendation list, as RecommendationListSerializer documents it
    (built without a serializer instance: this is the API's hottest path)."""
    rec_id = answer.rec_id
    return {
        "rec_id": rec_id,
        "source": answer.source,
        "model_version": answer.version_id,
        "experiment": answer.experiment_id,
        "arm": answer.arm,
        "results": [
            {
                "external_id": r.item.external_id,
                "title": r.item.title,
                "categories": [{"slug": c.slug, "name": c.name} for c in r.categories],
                "url": r.item.url or None,
                "score": r.score,
                "rec_id": rec_id,
            }
            for r in answer.recommendations
        ],
    }


# -- events ----------------------------------------------------------------------------------


class EventSerializer(serializers.Serializer):
    """One event (documentation only: services.record_events validates)."""

    item = serializers.CharField(help_text="The item's external id.")
    event_type = serializers.ChoiceField(choices=EventType.choices)
    value = serializers.FloatField(
        required=False, allow_null=True, help_text="A rating's value; null for other events."
    )
    timestamp = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601; default now."
    )
    event_id = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=255,
        help_text="Your id for the event; a repeat is a duplicate.",
    )
    rec_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The list the event followed from.",
    )
    user = serializers.CharField(
        required=False, help_text="Staff only: the user the event belongs to."
    )


class _CreatedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)


class _DuplicateSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField()


class _RejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by field name.",
    )


class IngestResultSerializer(serializers.Serializer):
    created = _CreatedSerializer(many=True)
    duplicates = _DuplicateSerializer(many=True)
    rejected = _RejectedSerializer(many=True)


# -- models and privacy ----------------------------------------------------------------------


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "slot",
            "algorithm",
            "params",
            "status",
            "is_active",
            "metrics",
            "n_users",
            "n_items",
            "n_interactions",
            "trained_through",
            "training_seconds",
            "note",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "history"]
        read_only_fields = fields


class TrainRequestSerializer(serializers.Serializer):
    params = serializers.DictField(required=False, help_text="Backend parameters to override.")
    slot = serializers.SlugField(required=False, default="default", max_length=50)


class _ExportedEventSerializer(serializers.Serializer):
    item = serializers.CharField()
    item_title = serializers.CharField()
    event_type = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    timestamp = serializers.DateTimeField()
    event_id = serializers.CharField(allow_null=True)
    rec_id = serializers.CharField(allow_blank=True)


class ExportSerializer(serializers.Serializer):
    user = serializers.CharField()
    interactions = _ExportedEventSerializer(many=True)
    impressions = serializers.IntegerField(help_text="How many lists were shown to the user.")


class ForgetSerializer(serializers.Serializer):
    interactions = serializers.IntegerField(help_text="Interactions deleted.")
    impressions = serializers.IntegerField(help_text="Tracked lists deleted.")
