"""Signal receivers: host-model sync of the catalogue and refreshes after new interactions."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import catalog


@receiver(post_save, dispatch_uid="recommender_sync_host_item")
def sync_host_item(sender, instance, raw=False, **kwargs):
    if not raw and catalog.spec_for(sender) is not None:
        catalog.sync_item(instance)


@receiver(post_delete, dispatch_uid="recommender_unsync_host_item")
def unsync_host_item(sender, instance, **kwargs):
    if catalog.spec_for(sender) is not None:
        catalog.unsync_item(instance)
