"""Settings of the worker benchmarks: the demo project in production shape (DEBUG off,
django-redis cache and Redis broker from REDIS_URL, PostgreSQL from DATABASE_URL).

The scripts set DATABASE_URL, REDIS_URL and MEDIA_ROOT before importing this module; worker
subprocesses get the same environment.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmarks-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from project.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
CELERY_BEAT_SCHEDULE = {}
UNLIMITED = "100000000/minute"
RECOMMENDER = {"THROTTLE_RATES": {"anon": UNLIMITED, "user": UNLIMITED, "ingest": UNLIMITED}}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"recommender": {"handlers": ["console"], "level": "WARNING"}},
}
