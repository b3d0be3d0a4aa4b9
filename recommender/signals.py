"""Signals the app sends, for host sites and for the app's own receivers."""

from django.dispatch import Signal

__all__ = ["interactions_recorded", "model_activated"]

# Sent after the transaction that stored new interactions commits; kwargs: user_ids (a set).
interactions_recorded = Signal()
# Sent after a model version became the active one of its slot; kwargs: version.
model_activated = Signal()
