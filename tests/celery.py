"""The test site's Celery app, owned by the tests as a host site owns its own.

It reads the CELERY_* settings (eager for unit tests); tests/workers starts real workers.
"""

from celery import Celery

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
