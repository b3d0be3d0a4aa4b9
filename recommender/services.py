"""The one public facade: record interactions, train, recommend, refresh, forget.

Views, tasks, commands, template tags and the admin call these functions and nothing deeper.
"""

from __future__ import annotations

from .cache import CacheUnavailable, ListRead
from .catalog import set_categories, sync_item, unsync_item
from .experiments import ExperimentError, end_experiment, start_experiment
from .explain import Explanation, explain_recommendations
from .ingest import IngestResult, record_events, record_interaction
from .privacy import export_user_data, forget_late_impressions, forget_user
from .refresh import (
    claim_refresh,
    claim_refreshes,
    plan_refresh,
    refresh_all,
    refresh_user,
    refresh_users,
    release_refresh,
    release_refreshes,
    retire_old_versions,
    retrain_due,
    score_chunk,
    switch_lists,
)
from .registry import NotActivatable, activate, active_version, rollback
from .serving import (
    Recommendation,
    RecommendationList,
    list_read,
    popular_items,
    recommend_for_user,
    similar_items,
)
from .tracking import record_impression, tracked_url
from .training import TrainingBusy, enqueue_version, fail_stale_runs, train

__all__ = [
    "CacheUnavailable",
    "claim_refresh",
    "claim_refreshes",
    "plan_refresh",
    "refresh_all",
    "refresh_user",
    "refresh_users",
    "release_refresh",
    "release_refreshes",
    "retire_old_versions",
    "retrain_due",
    "score_chunk",
    "switch_lists",
    "ExperimentError",
    "Explanation",
    "IngestResult",
    "ListRead",
    "NotActivatable",
    "Recommendation",
    "RecommendationList",
    "TrainingBusy",
    "activate",
    "active_version",
    "end_experiment",
    "enqueue_version",
    "explain_recommendations",
    "export_user_data",
    "fail_stale_runs",
    "forget_late_impressions",
    "forget_user",
    "list_read",
    "popular_items",
    "recommend_for_user",
    "record_events",
    "record_impression",
    "record_interaction",
    "rollback",
    "set_categories",
    "similar_items",
    "start_experiment",
    "sync_item",
    "tracked_url",
    "train",
    "unsync_item",
]
