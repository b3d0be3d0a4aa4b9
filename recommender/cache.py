"""Per-user recommendation lists over Django's cache framework, with versioned keys.

Lists are stored under ``recommender:list:<version>:<user>``. A pointer,
``recommender:current:<slot>``, names the model version whose lists readers use; a full
refresh writes every list of the new version first and then moves the pointer in one ``set``,
so a reader, who reads the pointer once, never mixes lists of two versions.

Every function here survives a cache outage: reads return None and writes return False,
with the failure logged, so pages fall back to on-the-fly scoring or popularity. Workers that
must not lose a write (a refresh) turn a False into :class:`CacheUnavailable` and retry.

This module is the app's only adapter to the cache server: nothing else imports ``redis``.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from django.core.cache import caches

from .conf import app_settings

__all__ = [
    "CacheUnavailable",
    "CachedList",
    "RequestCount",
    "count_request",
    "get_current_version",
    "set_current_version",
    "get_list",
    "ListRead",
    "set_lists",
    "delete_user",
    "delete_lists",
    "delete_version",
    "get_value",
    "get_values",
    "set_value",
    "add_value",
    "add_values",
    "delete_value",
    "delete_values",
]

logger = logging.getLogger("recommender")
PREFIX = "recommender"

CachedList = dict[str, Any]  # {"version": int, "items": [(item_pk, score), ...], "at": float}
# Lists per pipelined round trip: bounds the memory and the time of one Redis command batch.
WRITE_BATCH = 500
_FAILED = object()
# SET key value [PX ms] NX for every key; a list of 1 (set) or 0 (was there). ARGV[2] = 0: no
# expiry.
_ADD_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  local done
  if ARGV[2] == "0" then
    done = redis.call("SET", key, ARGV[1], "NX")
  else
    done = redis.call("SET", key, ARGV[1], "PX", ARGV[2], "NX")
  end
  out[i] = done and 1 or 0
end
return out
"""

# One request counted against a rate, atomically, on the server: DRF's throttle history (a
# list of request times, newest first) kept and trimmed where it lives. KEYS[1] is the list;
# KEYS[2..] are read in the same trip. ARGV: now, the window in seconds, the limit. Returns
# {1 if counted else 0, requests in the window, the oldest one's time, values of KEYS[2..]}.
_COUNT_REQUEST = """
local key, now, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
while true do
  local last = redis.call("LINDEX", key, -1)
  if last and tonumber(last) <= now - window then redis.call("RPOP", key) else break end
end
local count = redis.call("LLEN", key)
local counted = 0
if count < tonumber(ARGV[3]) then
  redis.call("LPUSH", key, ARGV[1])
  redis.call("EXPIRE", key, math.ceil(window))
  count, counted = count + 1, 1
end
local out = {counted, count, redis.call("LINDEX", key, -1)}
if #KEYS > 1 then
  local values = redis.call("MGET", unpack(KEYS, 2, #KEYS))
  for i = 1, #KEYS - 1 do out[3 + i] = values[i] end
end
return out
"""
_counter_script = None
_refusing: weakref.WeakSet = weakref.WeakSet()  # Redis clients that refused the script


def _script_refused() -> tuple[type[Exception], ...]:
    """The errors of a script Redis refuses to run (not of a server that is down)."""
    from redis.exceptions import NoScriptError, ResponseError

    return (ResponseError, NoScriptError)


class CacheUnavailable(RuntimeError):
    """A write that had to happen did not (the cache server is down or timed out)."""


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
        logger.warning(
            "recommender cache %s failed; serving without the cache", action, exc_info=True
        )
        return default


def get_current_version(slot: str = "default") -> int | None:
    """The model version whose lists readers use, or None when no full refresh finished."""
    return _safely(None, "read", _cache().get, _current_key(slot))


def set_current_version(version_id: int, slot: str = "default") -> bool:
    """Point readers at ``version_id``'s lists in one step."""
    return _safely(False, "write", _cache().set, _current_key(slot), version_id, None) is not False


def get_list(version_id: int, user_id: Any) -> CachedList | None:
    return _safely(None, "read", _cache().get, _list_key(version_id, user_id))


class ListRead:
    """A user's list under a version and the small values it is served with: one round trip,
    now or carried ahead by an earlier read of the same request.

    The API's throttles count the caller's request before the view runs; a view that knows
    which of the app's keys its answer reads hands them a ``ListRead``, and the throttle's
    round trip brings these keys too (:func:`count_request` on Redis; :meth:`fetch_with`,
    with the history, on caches without scripts). :meth:`result` then answers from what was
    fetched, or reads the keys itself when nothing fetched them (throttling off, the cache
    down).
    """

    __slots__ = ("keys", "version_id", "user_id", "_found")

    def __init__(self, keys: list[str], version_id: int | None, user_id: Any) -> None:
        self.keys, self.version_id, self.user_id = keys, version_id, user_id
        self._found: dict[str, Any] | None = None

    def _server_side(self) -> tuple[list[str], str | None]:
        list_key = _list_key(self.version_id, self.user_id) if self.version_id else None
        return [f"{PREFIX}:{k}" for k in self.keys] + ([list_key] if list_key else []), list_key

    def unfetched(self) -> list[str]:
        """The cache keys still to fetch (none once something fetched them)."""
        return self._server_side()[0] if self._found is None else []

    def fetched(self, values: dict[str, Any]) -> None:
        """Hand over the values of :meth:`unfetched`'s keys, read by someone else's round
        trip (absent keys left out)."""
        self._found = values

    def fetch_with(self, backend, key: str, default: Any = None) -> Any:
        """``backend.get(key, default)`` (a key of the caller's own, such as a throttle's
        history), fetching this read's keys in the same round trip when ``backend`` is the
        app's cache and they were not fetched yet. Raises what the cache raises."""
        ours = self.unfetched()
        if not ours or backend is not _cache():
            return backend.get(key, default)
        found = _get_many([key, *ours])
        value = found.pop(key, default)
        self.fetched(found)
        return value

    def result(self) -> tuple[dict[str, Any], CachedList | None]:
        """The small values (as :func:`get_values`) and the list, None when absent (or when
        ``version_id`` is None). What was fetched ahead is handed over, not kept (a later
        call reads again): the holder, a view, sits in reference cycles, and a list kept
        there would wait for the garbage collector instead of being freed with the answer."""
        ours, list_key = self._server_side()
        found, self._found = self._found, None
        if found is None:
            found = _safely({}, "read", _get_many, ours)
        the_list = found.pop(list_key, None) if list_key else None
        return {k[len(PREFIX) + 1 :]: v for k, v in found.items()}, the_list


class RequestCount(NamedTuple):
    """A request counted against a rate: whether it fits, how many the window holds now, and
    when the oldest of them came (None when none)."""

    allowed: bool
    count: int
    oldest: float | None


def count_request(
    key: str, window: float, limit: int, now: float, read: ListRead | None = None
) -> RequestCount | None:
    """Count a request under ``key`` against ``limit`` per ``window`` seconds, in one atomic
    round trip, and fetch ``read``'s keys in it (when nothing fetched them yet).

    The same sliding log as DRF's throttles, kept on the server: read-then-write from the
    client lets concurrent requests each see the same history and all pass, so a client
    with several connections gets several budgets. None when the cache cannot run the script
    (not django-redis, or a Redis that refuses scripts): the caller counts as DRF does.
    Raises what the cache raises.
    """
    global _counter_script
    backend = _cache()
    client = getattr(backend, "client", None)
    if not hasattr(client, "get_client") or not hasattr(client, "decode"):
        return None
    raw = client.get_client(write=True)
    if raw in _refusing:
        return None
    extra = read.unfetched() if read is not None else []
    keys = _server_keys(client, [f"{key}:log", *extra])
    if _counter_script is None:
        _counter_script = raw.register_script(_COUNT_REQUEST)
    try:
        reply = _counter_script(keys=keys, args=[repr(now), window, limit], client=raw)
    except _script_refused() as exc:
        from redis.exceptions import NoPermissionError

        # Refused for good (an account without scripting, a service that removed EVALSHA):
        # remember, so that each request does not pay a round trip to be refused again.
        # Any other error (out of memory, a busy server) is the cache failing: raised.
        if not isinstance(exc, NoPermissionError) and "unknown command" not in str(exc):
            raise
        logger.warning("Redis refused the throttle's script (%s); counting from the client", exc)
        _refusing.add(raw)
        return None
    if extra:
        values = zip(extra, reply[3:], strict=True)
        read.fetched({k: client.decode(v) for k, v in values if v is not None})
    oldest = float(reply[2]) if reply[2] is not None else None
    return RequestCount(bool(reply[0]), int(reply[1]), oldest)


def _get_many(keys: list[str]) -> dict[str, Any]:
    """``get_many`` that, on django-redis, sends one MGET of keys wrapped as django-redis
    wraps them, without its per-key make_key (this runs on every cached list served)."""
    backend = _cache()
    client = getattr(backend, "client", None)
    if not hasattr(client, "get_client") or not hasattr(client, "decode"):
        return backend.get_many(keys)
    values = client.get_client(write=False).mget(_server_keys(client, keys))
    pairs = zip(keys, values, strict=True)
    return {key: client.decode(value) for key, value in pairs if value is not None}


def set_lists(version_id: int, lists: Mapping[Any, Sequence[tuple[int, float]]]) -> bool:
    """Write many users' lists of one version, ``WRITE_BATCH`` per pipelined ``set_many``.

    Returns:
        True when every list was written; False (logged) when the cache failed.
    """
    now = time.time()
    payload = {
        _list_key(version_id, user_id): {
            "version": version_id,
            "items": [(int(pk), float(score)) for pk, score in entries],
            "at": now,
        }
        for user_id, entries in lists.items()
    }
    keys = list(payload)
    for start in range(0, len(keys), WRITE_BATCH):
        batch = {key: payload[key] for key in keys[start : start + WRITE_BATCH]}
        # set_many returns the keys it failed to set ([] or None when all went in).
        failed = _safely(_FAILED, "write", _cache().set_many, batch, app_settings.CACHE_TIMEOUT)
        if failed is _FAILED or failed:
            return False
    return True


def delete_user(user_id: Any, version_ids: Iterable[int]) -> bool:
    """Drop a user's lists of the given versions (privacy, forget)."""
    keys = [_list_key(v, user_id) for v in version_ids]
    return _safely(False, "delete", _cache().delete_many, keys) is not False


def delete_lists(version_id: int, user_ids: Iterable[Any]) -> bool:
    """Drop the lists of many users for one version."""
    keys = [_list_key(version_id, u) for u in user_ids]
    return not keys or _safely(False, "delete", _cache().delete_many, keys) is not False


def delete_version(version_id: int) -> bool:
    """Drop every list of a version where the cache can match keys (django-redis).

    Other caches cannot list their keys; their lists of the version expire with CACHE_TIMEOUT.
    """
    backend = _cache()
    if not hasattr(backend, "delete_pattern"):
        return False
    return (
        _safely(None, "delete", backend.delete_pattern, f"{_list_key(version_id, '')}*") is not None
    )


def get_value(key: str) -> Any:
    return _safely(None, "read", _cache().get, f"{PREFIX}:{key}")


def get_values(keys: list[str]) -> dict[str, Any]:
    """Several small values in one round trip; absent keys are absent from the answer."""
    found = _safely({}, "read", _cache().get_many, [f"{PREFIX}:{k}" for k in keys])
    return {k[len(PREFIX) + 1 :]: v for k, v in found.items()}


def set_value(key: str, value: Any, timeout: float | None) -> bool:
    return _safely(False, "write", _cache().set, f"{PREFIX}:{key}", value, timeout) is not False


def add_value(key: str, value: Any, timeout: float | None) -> bool:
    """Set ``key`` only if it is absent; True when this call set it."""
    return bool(_safely(False, "write", _cache().add, f"{PREFIX}:{key}", value, timeout))


def delete_value(key: str) -> bool:
    return bool(_safely(False, "delete", _cache().delete, f"{PREFIX}:{key}"))


def add_values(keys: Sequence[str], value: Any, timeout: float | None) -> list[bool]:
    """``add_value`` for many keys: one flag per key, True where this call set it.

    One round trip on django-redis (an EVAL running ``SET NX PX`` per key); other caches add one
    key at a time. Every flag is False when the cache failed.
    """
    backend, full = _cache(), [f"{PREFIX}:{key}" for key in keys]

    def on_server() -> list[bool]:
        # One EVAL sets them all (keys and value made as django-redis makes them): a pipeline
        # of 1,000 SETs costs the client more to pack and parse than the server to run.
        client = backend.client
        raw = client.get_client(write=True)
        ms = 0 if timeout is None else max(1, int(timeout * 1000))
        keys = _server_keys(client, full)
        try:
            flags = raw.eval(_ADD_MANY, len(keys), *keys, client.encode(value), ms)
        except _script_refused() as exc:  # scripting refused (a managed Redis): one SET per key
            logger.info("EVAL refused (%s); adding keys in a pipeline", exc)
            pipe = raw.pipeline(transaction=False)
            for key in keys:
                pipe.set(key, client.encode(value), px=ms or None, nx=True)
            flags = pipe.execute()
        return [bool(flag) for flag in flags]

    def one_by_one() -> list[bool]:
        return [bool(backend.add(key, value, timeout)) for key in full]

    if not full:
        return []
    redis_client = hasattr(getattr(backend, "client", None), "get_client")
    return _safely([False] * len(full), "write", on_server if redis_client else one_by_one)


def _server_keys(client, keys: list[str]) -> list[str]:
    """django-redis's keys for ``keys``: where the key function only wraps the key (the
    default, ``prefix:version:key``) the wrapping is computed once, not once a key (a batch
    of lists is thousands of keys)."""
    head, marker, tail = str(client.make_key("\x00")).partition("\x00")
    if not marker or str(client.make_key(keys[0])) != f"{head}{keys[0]}{tail}":
        return [str(client.make_key(key)) for key in keys]
    return [f"{head}{key}{tail}" for key in keys]


def delete_values(keys: Sequence[str]) -> bool:
    full = [f"{PREFIX}:{key}" for key in keys]
    return not full or _safely(False, "delete", _cache().delete_many, full) is not False
