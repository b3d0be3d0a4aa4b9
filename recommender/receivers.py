"""Signal receivers: host-model sync of the catalogue, the item stores of web processes,
and refreshes after new interactions."""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import cache, catalog, experiments, itemcache, rules, tasks
from .models import Category, Experiment, Item, ItemRule
from .signals import interactions_recorded, model_activated


@receiver(post_save, dispatch_uid="recommender_sync_host_item")
def sync_host_item(sender, instance, raw=False, **kwargs):
    if not raw and catalog.spec_for(sender) is not None:
        catalog.sync_item(instance)


@receiver(post_delete, dispatch_uid="recommender_unsync_host_item")
def unsync_host_item(sender, instance, **kwargs):
    if catalog.spec_for(sender) is not None:
        catalog.unsync_item(instance)


@receiver([post_save, post_delete], sender=Item, dispatch_uid="recommender_item_changed")
@receiver([post_save, post_delete], sender=Category, dispatch_uid="recommender_category_changed")
def catalogue_changed(sender, using=None, **kwargs):
    """Every process drops the items it keeps (see recommender.itemcache)."""
    itemcache.changed(using)


@receiver(m2m_changed, sender=Item.categories.through, dispatch_uid="recommender_item_categories")
def item_categories_changed(sender, action, using=None, **kwargs):
    if action.startswith("post_"):
        itemcache.changed(using)


@receiver(model_activated, dispatch_uid="recommender_forget_active_version")
def forget_cached_active_version(sender, version, **kwargs):
    cache.delete_value(f"active:{version.slot}")


@receiver([post_save, post_delete], sender=ItemRule, dispatch_uid="recommender_rules_changed")
def rules_changed(sender, **kwargs):
    rules.invalidate()


@receiver([post_save, post_delete], sender=Experiment, dispatch_uid="recommender_exp_changed")
def experiment_changed(sender, **kwargs):
    experiments.invalidate()


@receiver(interactions_recorded, dispatch_uid="recommender_refresh_after_events")
def refresh_after_events(sender, user_ids, **kwargs):
    """New events: each user's list is refreshed shortly after the transaction commits."""
    transaction.on_commit(lambda: tasks.schedule_refresh(user_ids))


@receiver(model_activated, dispatch_uid="recommender_refresh_after_activation")
def refresh_after_activation(sender, version, **kwargs):
    """A new active version: every user's list is rewritten, then readers switch to it."""
    version_id = version.pk
    transaction.on_commit(lambda: tasks.enqueue(tasks.refresh_all, version_id))
