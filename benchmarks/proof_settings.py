"""Settings of the load and fault scenarios: the worker benchmarks' production-shaped demo
project, plus what a scenario needs to change through the environment.

PROOF_RECOMMENDER         JSON merged over RECOMMENDER (e.g. a shorter TRAIN_LOCK_TIMEOUT)
PROOF_VISIBILITY_TIMEOUT  seconds before Redis redelivers a task whose worker died unacked
"""

import json
import os

from benchmarks.worker_settings import *  # noqa: F403

RECOMMENDER = {**RECOMMENDER, **json.loads(os.environ.get("PROOF_RECOMMENDER", "{}"))}  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": float(os.environ.get("PROOF_VISIBILITY_TIMEOUT", "3600")),
}
if REDIS_URL:  # noqa: F405
    # A scenario stops Redis on purpose: fail fast instead of queueing requests behind it.
    CACHES["default"]["OPTIONS"].update(SOCKET_CONNECT_TIMEOUT=0.5, SOCKET_TIMEOUT=1)  # noqa: F405

# Warnings of the servers (a cache outage logs one per failed call) go to a file, not to the
# scenario's report: PROOF_LOG, default /tmp/recommender_proof_server.log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("PROOF_LOG", "/tmp/recommender_proof_server.log"),
        }
    },
    "loggers": {
        "recommender": {"handlers": ["file"], "level": "WARNING"},
        "django.request": {"handlers": ["file"], "level": "WARNING", "propagate": False},
    },
}
