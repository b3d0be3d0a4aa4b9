"""The catalogue, the interaction log, trained model versions, tracking and merchandising."""

from __future__ import annotations

import hashlib
import math
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .querysets import (
    CategoryQuerySet,
    ImpressionQuerySet,
    InteractionQuerySet,
    ItemQuerySet,
    ModelVersionQuerySet,
)

__all__ = [
    "Category",
    "Item",
    "EventType",
    "Interaction",
    "ModelVersion",
    "Impression",
    "ItemRule",
    "Experiment",
    "AuditLog",
    "new_rec_id",
]


def new_rec_id() -> str:
    return uuid.uuid4().hex


class Category(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = self._free_slug()
        super().save(*args, **kwargs)

    def _free_slug(self) -> str:
        """An ASCII slug for the name; a name with none ("€€") or whose slug another category
        already has ("Sci-Fi" and "sci fi") gets a short hash of itself appended."""
        base = slugify(self.name)[:180]
        taken = Category.objects.filter(slug=base).exclude(pk=self.pk).exists() if base else True
        if not taken:
            return base
        digest = hashlib.sha1(self.name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        return f"{base}-{digest}" if base else f"category-{digest}"


class Item(models.Model):
    """One thing that can be recommended, optionally standing for a host model instance."""

    external_id = models.CharField(
        _("external id"),
        max_length=255,
        unique=True,
        help_text=_("The stable id host sites and the API use."),
    )
    title = models.CharField(_("title"), max_length=500)
    description = models.TextField(_("description"), blank=True)
    categories = models.ManyToManyField(Category, related_name="items", blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    url = models.CharField(_("URL"), max_length=1000, blank=True)
    is_active = models.BooleanField(
        _("active"),
        default=True,
        db_index=True,
        help_text=_("Inactive items are never recommended."),
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    object_id = models.CharField(max_length=255, null=True, blank=True)
    content_object = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=Q(object_id__isnull=False),
                name="recommender_item_unique_host_object",
            )
        ]
        indexes = [models.Index(fields=["-created_at"], name="recommender_item_created")]

    def __str__(self) -> str:
        return f"{self.title} ({self.external_id})"

    def get_absolute_url(self) -> str:
        if self.url:
            return self.url
        obj = self.content_object if self.content_type_id else None
        return obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""


class EventType(models.TextChoices):
    VIEW = "view", _("view")
    CLICK = "click", _("click")
    LIKE = "like", _("like")
    ADD_TO_CART = "add_to_cart", _("add to cart")
    PURCHASE = "purchase", _("purchase")
    RATING = "rating", _("rating")
    DISLIKE = "dislike", _("dislike")


class Interaction(models.Model):
    """One event of a user on an item; the training data and the privacy-relevant log."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="recommender_interactions",
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="interactions")
    event_type = models.CharField(_("event type"), max_length=20, choices=EventType.choices)
    value = models.FloatField(_("value"), null=True, blank=True, help_text=_("A rating's value."))
    timestamp = models.DateTimeField(_("time"), default=timezone.now)
    event_id = models.CharField(
        _("event id"),
        max_length=255,
        null=True,
        blank=True,
        help_text=_("Client-chosen id, unique per user, that makes ingestion idempotent."),
    )
    rec_id = models.CharField(
        _("recommendation list"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("The tracked list (rec_id) that led to this event."),
    )
    source_version = models.ForeignKey(
        "ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("source model version"),
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    objects = InteractionQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["user", "-timestamp"], name="recommender_int_user_time"),
            models.Index(fields=["item", "-timestamp"], name="recommender_int_item_time"),
            models.Index(fields=["-timestamp"], name="recommender_int_time"),
            models.Index(fields=["rec_id"], name="recommender_int_rec", condition=~Q(rec_id="")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(event_type__in=EventType.values), name="recommender_int_event_type"
            ),
            # Per user, so one user's ids can never collide with (and silently drop) another's.
            models.UniqueConstraint(
                fields=["user", "event_id"],
                condition=Q(event_id__isnull=False),
                name="recommender_int_unique_event_id",
                violation_error_message=_("This user already sent an event with this event id."),
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.timestamp:%Y-%m-%d %H:%M}"
        return f"{self.user} {self.get_event_type_display()} {self.item.title} @ {when}"

    def clean(self) -> None:
        validate_event_value(self.event_type, self.value)


_EVENT_TYPES = tuple(EventType.values)  # (EventType.values builds a new list on each use)


def validate_event_value(event_type: str, value: float | None) -> None:
    """Raise ValidationError naming the field when a value does not fit its event type."""
    if event_type not in _EVENT_TYPES:
        raise ValidationError(
            {
                "event_type": _(
                    f"Unknown event type {event_type!r}; "
                    f"expected one of {', '.join(EventType.values)}."
                )
            }
        )
    if event_type == EventType.RATING:
        low, high = app_settings.RATING_SCALE
        if value is None:
            raise ValidationError({"value": _("A rating needs a value.")})
        if (
            not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ValidationError(
                {"value": _(f"Rating {value!r} is out of range [{low}, {high}].")}
            )
    elif value is not None and (not isinstance(value, int | float) or not math.isfinite(value)):
        raise ValidationError({"value": _("Value must be a finite number or null.")})


class ModelVersion(models.Model):
    """One training run and, when it succeeded, the model it produced."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        TRAINING = "training", _("training")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")
        RETIRED = "retired", _("retired")

    slot = models.CharField(
        _("slot"),
        max_length=50,
        default="default",
        help_text=_("At most one version per slot is active."),
    )
    algorithm = models.CharField(_("algorithm"), max_length=255)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    is_active = models.BooleanField(_("active"), default=False)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    history = models.JSONField(
        _("training history"),
        default=list,
        blank=True,
        help_text=_("Per-epoch loss and validation metric."),
    )
    artifact = models.FileField(_("exported arrays (.npz)"), max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    model_file = models.FileField(_("Keras model (.keras)"), max_length=500, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    n_users = models.PositiveIntegerField(null=True, blank=True)
    n_items = models.PositiveIntegerField(null=True, blank=True)
    n_interactions = models.PositiveBigIntegerField(null=True, blank=True)
    trained_through = models.DateTimeField(
        null=True, blank=True, help_text=_("Time of the newest interaction in the training data.")
    )
    training_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    note = models.TextField(
        _("note"), blank=True, help_text=_("Why the version was or was not activated.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(is_active=True),
                name="recommender_one_active_version_per_slot",
            ),
        ]

    def __str__(self) -> str:
        name = self.algorithm.rsplit(".", 1)[-1]
        active = ", active" if self.is_active else ""
        return f"#{self.pk} {name} ({self.get_status_display()}{active})"


class Impression(models.Model):
    """One recommendation list shown to someone; clicks point back to it by rec_id."""

    rec_id = models.CharField(max_length=64, default=new_rec_id)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    placement = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=20, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="impressions"
    )
    experiment = models.ForeignKey(
        "Experiment", on_delete=models.SET_NULL, null=True, blank=True, related_name="impressions"
    )
    arm = models.CharField(max_length=1, blank=True)
    item_ids = models.JSONField(default=list, help_text=_("External ids in the order shown."))
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ImpressionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # A constraint and an index rather than unique=True and db_index=True, which on
        # PostgreSQL add a second, varchar_pattern_ops index to each (for LIKE 'x%', which
        # nothing asks of these columns) that every impression written had to update.
        constraints = [
            models.UniqueConstraint(fields=["rec_id"], name="recommender_imp_unique_rec_id")
        ]
        indexes = [models.Index(fields=["placement"], name="recommender_imp_placement")]

    def __str__(self) -> str:
        return f"list {self.rec_id[:8]} ({len(self.item_ids)} items, {self.placement or 'api'})"


class ItemRule(models.Model):
    """Merchandising: pin an item to the top of lists, or ban it, in a category or everywhere."""

    class Action(models.TextChoices):
        PIN = "pin", _("pin")
        BAN = "ban", _("ban")

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="rules")
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        help_text=_("Empty: applies to every list."),
    )
    action = models.CharField(max_length=3, choices=Action.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "category"],
                name="recommender_rule_unique",
                condition=Q(category__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["item"],
                name="recommender_rule_unique_everywhere",
                condition=Q(category__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        where = self.category.name if self.category_id else _("everywhere")
        return f"{self.get_action_display()} {self.item.title} in {where}"


class Experiment(models.Model):
    """An A/B test between two ready model versions, users split by a stable hash."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        ENDED = "ended", _("ended")

    name = models.CharField(max_length=200)
    version_a = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    share_b = models.FloatField(default=0.5, help_text=_("Share of users who get version B."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    winner = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="running"),
                name="recommender_one_running_experiment",
            ),
            models.CheckConstraint(
                condition=Q(share_b__gte=0) & Q(share_b__lte=1), name="recommender_experiment_share"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class AuditLog(models.Model):
    """Who did what to whose data, for privacy actions."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=50)
    subject = models.CharField(max_length=255, help_text=_("The user the action concerned."))
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.subject}"
