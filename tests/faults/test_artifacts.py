"""The active version's artifact file is deleted or corrupted: lists still answer (popular),
the error is logged with the version, the version stays active, and serving recovers by
itself once the file is back."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from recommender import serving
from recommender.models import ModelVersion

pytestmark = pytest.mark.django_db


def delete(path: Path) -> None:
    path.unlink()


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def scribble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\x00" * 16
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [delete, truncate, scribble])
def test_a_damaged_artifact_falls_back_to_popular_and_recovers(
    damage, trained_version, planted, tmp_path, caplog
):
    someone = planted["users"][5]
    client = APIClient()
    client.force_authenticate(someone)
    assert client.get("/api/recommendations/").json()["source"] == "computed"
    path = Path(trained_version.artifact.path)
    shutil.copy(path, tmp_path / "backup.npz")
    damage(path)
    serving._SCORERS.clear()  # a web process that starts now, or loads after a deploy
    with caplog.at_level(logging.ERROR, logger="recommender"):
        mine = client.get("/api/recommendations/", {"limit": 6})
        similar = APIClient().get("/api/items/games-2/similar/")
    assert mine.status_code == 200 and mine.json()["source"] == "popular"
    assert len(mine.json()["results"]) == 6
    assert similar.status_code == 200 and similar.json()["source"] == "popular"
    assert similar.json()["results"]
    assert f"cannot load the artifact of model version {trained_version.pk}" in caplog.text
    assert ModelVersion.objects.active().get() == trained_version, "no model is lost"
    shutil.copy(tmp_path / "backup.npz", path)
    back = client.get("/api/recommendations/").json()
    assert back["source"] == "computed" and back["model_version"] == trained_version.pk
