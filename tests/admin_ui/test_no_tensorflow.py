"""The control room is a web path: its pages never import TensorFlow (serving reads numpy)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh process: migrate an in-memory database, train a numpy model (EASE), then load every
# page of the control room as staff and check that TensorFlow was never imported.
SCRIPT = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
from django.urls import reverse
setup_test_environment()
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from recommender import services
from recommender.models import Interaction, Item
User = get_user_model()
users = [User.objects.create_user(f"u{n}@example.com", "pw") for n in range(12)]
items = [Item.objects.create(external_id=f"i{n}", title=f"Item {n}") for n in range(12)]
for u, user in enumerate(users):
    for n in range(6):
        item = items[(u + n * (1 + u % 3)) % 12]
        Interaction.objects.create(user=user, item=item, event_type="view")
with override_settings(MEDIA_ROOT=sys.argv[1], RECOMMENDER={
        **settings.RECOMMENDER, "BACKEND": "recommender.ml.baselines.EASERecommender"}):
    version = services.train()
    assert version.is_active, (version.status, version.error, version.note)
    client = Client()
    client.force_login(User.objects.create_superuser("staff@example.com", "pw"))
    for url in [reverse("admin:recommender_dashboard"),
                reverse("admin:recommender_preview") + f"?user={users[0].pk}",
                reverse("admin:recommender_item_similar", args=[items[0].pk]),
                reverse("admin:recommender_modelversion_changelist"),
                reverse("admin:recommender_modelversion_change", args=[version.pk])]:
        assert client.get(url).status_code == 200, url
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
assert not bad, bad[:5]
print("ok")
"""


def test_control_room_pages_never_import_tensorflow(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
