"""The test suite; like a host site, it owns the Celery app that runs the app's tasks."""

from .celery import app as celery_app

__all__ = ["celery_app"]
