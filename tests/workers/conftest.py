"""Fixtures of the worker tests: clean caches, a real Redis cache, a real Celery worker."""

import threading
import time
import uuid
from contextlib import contextmanager

import pytest
from django.core.cache import caches
from django.db.backends.signals import connection_created

from tests.conftest import require_redis

REDIS_DOWN = "redis://127.0.0.1:6390/0"  # nothing listens there


@pytest.fixture(autouse=True)
def clean_default_cache():
    """The in-process default cache outlives tests; start and end each one empty."""
    caches["default"].clear()
    yield
    caches["default"].clear()


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll until ``predicate()`` is truthy and return its value (a correctness deadline,
    not a speed assertion: on a loaded machine things only take longer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


@pytest.fixture
def redis_cache(real_redis):
    """The recommender's cache backend on the machine's Redis (see real_redis)."""
    return caches["shared"]


def cache_down(settings):
    """Point the recommender's cache at a closed port (the broker keeps working)."""
    settings.CACHES = {
        **settings.CACHES,
        "redis": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_DOWN,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    settings.RECOMMENDER = {**settings.RECOMMENDER, "CACHE_ALIAS": "redis"}


def _sqlite_read_uncommitted(sender, connection, **kwargs):
    # In-memory SQLite shared between threads uses table locks that fail at once instead of
    # waiting; letting readers skip them leaves only writer/writer conflicts, which these
    # tests do not have.
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA read_uncommitted = 1")


@contextmanager
def _current(app):
    from celery import _state

    previous_current, previous_default = _state.get_current_app(), _state.default_app
    try:
        yield
    finally:
        previous_current.set_current()
        _state.set_default_app(previous_default)


@pytest.fixture
def worker(redis_cache, settings):
    """A real Celery worker (threads pool, 3 threads) in this process, consuming queues that
    only this test uses, on the machine's Redis as broker and result backend."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    url = require_redis()
    run = uuid.uuid4().hex[:10]
    queues = [f"tests-{run}", f"tests-training-{run}"]
    app = Celery(f"tests-worker-{run}", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        task_always_eager=False,
        broker_url=url,
        result_backend=url,
        task_default_queue=queues[0],
        task_routes={"recommender.tasks.train_model": {"queue": queues[1]}},
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=False,
        result_expires=600,
    )
    connection_created.connect(_sqlite_read_uncommitted)
    try:
        with (
            _current(app),
            start_worker(
                app,
                pool="threads",
                concurrency=3,
                queues=queues,
                perform_ping_check=False,
                shutdown_timeout=60,
            ),
        ):
            yield app
    finally:
        connection_created.disconnect(_sqlite_read_uncommitted)
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            for name in queues:
                channel.queue_delete(name)
                # The routing tables kombu keeps per queue's exchange outlive the queue.
                channel.client.delete(f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")


class TaskLog:
    """Names and arguments of the tasks sent, run by the in-process worker, and retried."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ran: list[tuple[str, tuple]] = []
        self.retried: list[tuple[str, tuple]] = []
        self.published: list[tuple[str, tuple]] = []

    def count(self, name, args=None, kind="ran"):
        with self.lock:
            return sum(
                1
                for n, a in getattr(self, kind)
                if n == name and (args is None or tuple(a) == tuple(args))
            )


@pytest.fixture
def task_log():
    from celery.signals import before_task_publish, task_postrun, task_retry

    log = TaskLog()

    def ran(sender=None, args=None, **kwargs):
        with log.lock:
            log.ran.append((sender.name, tuple(args or ())))

    def retried(sender=None, request=None, **kwargs):
        with log.lock:
            log.retried.append((sender.name, tuple(request.args or ())))

    def published(sender=None, body=None, **kwargs):
        with log.lock:
            log.published.append((sender, tuple(body[0])))

    task_postrun.connect(ran, weak=False)
    task_retry.connect(retried, weak=False)
    before_task_publish.connect(published, weak=False)
    yield log
    task_postrun.disconnect(ran)
    task_retry.disconnect(retried)
    before_task_publish.disconnect(published)
