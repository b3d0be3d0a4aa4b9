"""Settings of the benchmark server: the demo project in production shape, plus a floor endpoint.

DEBUG off, PostgreSQL (DATABASE_URL) with persistent connections, django-redis (REDIS_URL),
throttling on with rates no benchmark reaches (so its cost is paid but nothing is refused).
The scripts set the environment before importing this module.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmarks-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from project.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchmarks.site_urls"
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
DATABASES["default"]["CONN_MAX_AGE"] = 600  # noqa: F405
UNLIMITED = "100000000/minute"
RECOMMENDER = {"THROTTLE_RATES": {"anon": UNLIMITED, "user": UNLIMITED, "ingest": UNLIMITED}}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"recommender": {"handlers": ["console"], "level": "WARNING"}},
}
