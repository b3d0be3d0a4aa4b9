"""System checks: misconfiguration is reported with an id and a hint, never raised at import."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, app_settings
from .models import EventType

__all__ = ["check_settings"]

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.compatibility, Tags.caches)
def check_settings(app_configs=None, **kwargs) -> list:
    errors: list = []
    errors += _check_keys()
    errors += _check_cache()
    errors += _check_backend()
    errors += _check_event_weights()
    errors += _check_item_models()
    return errors


def _check_keys() -> list:
    unknown = sorted(set(app_settings.user_settings) - set(DEFAULTS))
    return [
        Error(
            f"Unknown RECOMMENDER setting {key!r}.",
            hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            id="recommender.E002",
        )
        for key in unknown
    ]


def _check_cache() -> list:
    alias = app_settings.CACHE_ALIAS
    if alias not in settings.CACHES:
        return [
            Error(
                f"RECOMMENDER['CACHE_ALIAS'] is {alias!r}, which is not in settings.CACHES.",
                hint=f"Use one of: {', '.join(settings.CACHES)}.",
                id="recommender.E001",
            )
        ]
    backend = settings.CACHES[alias].get("BACKEND", "")
    if backend in PER_PROCESS_CACHES and not settings.DEBUG:
        return [
            Warning(
                f"The recommendation cache {alias!r} uses {backend.rsplit('.', 1)[-1]}, which "
                "web processes and Celery workers cannot share.",
                hint="Use django_redis.cache.RedisCache (or another shared cache) in production.",
                id="recommender.W001",
            )
        ]
    return []


def _check_backend() -> list:
    path = app_settings.BACKEND
    try:
        import_string(path)
    except ImportError as exc:
        return [
            Error(
                f"RECOMMENDER['BACKEND'] {path!r} does not import: {exc}.",
                hint="Give the dotted path of a recommender.ml.base.RecommenderBase subclass.",
                id="recommender.E003",
            )
        ]
    return []


def _check_event_weights() -> list:
    errors = []
    for name, weight in app_settings.EVENT_WEIGHTS.items():
        if name not in EventType.values:
            errors.append(
                Error(
                    f"RECOMMENDER['EVENT_WEIGHTS'] names unknown event type {name!r}.",
                    hint=f"Event types: {', '.join(EventType.values)}.",
                    id="recommender.E004",
                )
            )
        elif not isinstance(weight, int | float):
            errors.append(
                Error(
                    f"RECOMMENDER['EVENT_WEIGHTS'][{name!r}] must be a number, not {weight!r}.",
                    id="recommender.E004",
                )
            )
    return errors


def _check_item_models() -> list:
    errors = []
    for label, spec in app_settings.ITEM_MODELS.items():
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(
                Error(
                    f"RECOMMENDER['ITEM_MODELS'] names {label!r}, which is not an installed model.",
                    hint="Use 'app_label.ModelName' of a model in INSTALLED_APPS.",
                    id="recommender.E005",
                )
            )
            continue
        if not isinstance(spec, dict) or "title" not in spec:
            errors.append(
                Error(
                    f"RECOMMENDER['ITEM_MODELS'][{label!r}] needs at least a 'title' field.",
                    hint="For example {'title': 'name', 'description': 'body'}.",
                    id="recommender.E005",
                )
            )
    return errors
