"""Per-user recommendation lists over Django's cache framework, with versioned keys.

Lists are stored under ``recommender:list:<version>:<user>``. A pointer,
``recommender:current:<slot>``, names the model version whose lists readers use; a full
refresh writes every list of the new version first and then moves the pointer in one ``set``,
so a reader, who reads the pointer once, never mixes lists of two versions.

Every function here survives a cache outage: reads return None and writes return False,
with the failure logged, so pages fall back to on-the-fly scoring or popularity.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.cache import caches

from .conf import app_settings

__all__ = [
    "CachedList",
    "get_current_version",
    "set_current_version",
    "get_list",
    "set_lists",
    "delete_user",
    "get_value",
    "set_value",
    "add_value",
    "delete_value",
]

logger = logging.getLogger("recommender")
PREFIX = "recommender"

CachedList = dict[str, Any]  # {"version": int, "items": [[item_pk, score], ...], "at": float}


def _cache():
    return caches[app_settings.CACHE_ALIAS]


def _list_key(version_id: int, user_id: Any) -> str:
    return f"{PREFIX}:list:{version_id}:{user_id}"


def _current_key(slot: str) -> str:
    return f"{PREFIX}:current:{slot}"


def _safely(default: Any, action: str, fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:  # the cache is an optimisation; its outage must never break a page
        logger.warning("recommender cache %s failed; serving without the cache", action,
                       exc_info=True)
        return default


def get_current_version(slot: str = "default") -> int | None:
    """The model version whose lists readers use, or None when no full refresh finished."""
    return _safely(None, "read", _cache().get, _current_key(slot))


def set_current_version(version_id: int, slot: str = "default") -> bool:
    """Point readers at ``version_id``'s lists in one step."""
    return _safely(False, "write", _cache().set, _current_key(slot), version_id, None) is not False


def get_list(version_id: int, user_id: Any) -> CachedList | None:
    return _safely(None, "read", _cache().get, _list_key(version_id, user_id))


def set_lists(version_id: int, lists: Mapping[Any, Sequence[tuple[int, float]]]) -> bool:
    """Write many users' lists of one version in one round trip (``set_many``, pipelined)."""
    now = time.time()
    payload = {
        _list_key(version_id, user_id): {
            "version": version_id,
            "items": [[int(pk), round(float(score), 6)] for pk, score in entries],
            "at": now,
        }
        for user_id, entries in lists.items()
    }
    failed = _safely(None, "write", _cache().set_many, payload, app_settings.CACHE_TIMEOUT)
    return failed is not None and not failed


def delete_user(user_id: Any, version_ids: Iterable[int]) -> bool:
    """Drop a user's lists of the given versions (privacy, forget)."""
    keys = [_list_key(v, user_id) for v in version_ids]
    return _safely(False, "delete", _cache().delete_many, keys) is not False


def get_value(key: str) -> Any:
    return _safely(None, "read", _cache().get, f"{PREFIX}:{key}")


def set_value(key: str, value: Any, timeout: float | None) -> bool:
    return _safely(False, "write", _cache().set, f"{PREFIX}:{key}", value, timeout) is not False


def add_value(key: str, value: Any, timeout: float | None) -> bool:
    """Set ``key`` only if it is absent; True when this call set it."""
    return bool(_safely(False, "write", _cache().add, f"{PREFIX}:{key}", value, timeout))


def delete_value(key: str) -> bool:
    return bool(_safely(False, "delete", _cache().delete, f"{PREFIX}:{key}"))
