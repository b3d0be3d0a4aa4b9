"""The one public facade: record interactions, train, recommend, refresh, forget.

Views, tasks, commands, template tags and the admin call these functions and nothing deeper.
"""

from __future__ import annotations

from .catalog import sync_item, unsync_item
from .ingest import IngestResult, record_events, record_interaction
from .registry import NotActivatable, activate, active_version, rollback

__all__ = [
    "IngestResult",
    "NotActivatable",
    "activate",
    "active_version",
    "record_events",
    "record_interaction",
    "rollback",
    "sync_item",
    "unsync_item",
]
