"""Training from the log: a version is stored with metrics, activated only when it earns it."""

import numpy as np
import pytest

from recommender import services
from recommender.ml.artifacts import load_arrays
from recommender.models import Interaction, ModelVersion

pytestmark = pytest.mark.django_db


def test_trained_version_has_metrics_artifact_and_counts(trained_version):
    v = trained_version
    assert v.metrics["default"]["ndcg@10"] > v.metrics["popularity"]["ndcg@10"]
    assert set(v.metrics["default"]) >= {"ndcg@10", "recall@10", "hit@10", "coverage@10"}
    assert (v.n_users, v.n_items) == (40, 36)
    assert v.n_interactions > 0 and v.training_seconds > 0 and v.trained_through
    with v.artifact.open("rb") as fh:
        arrays = load_arrays(fh, expected_sha256=v.artifact_sha256)
    assert len(arrays["item_keys"]) == 36
    assert "Activated" in v.note


def test_recommendations_follow_taste(trained_version, planted):
    hits = 0
    for user in planted["users"]:
        recs = services.recommend_for_user(user, limit=3)
        assert recs.source == "computed" and recs.version_id == trained_version.pk
        cats = [r.item.categories.all()[0].name for r in recs]
        hits += sum(c == planted["taste"][user.pk] for c in cats)
        seen = set(Interaction.objects.for_user(user).values_list("item_id", flat=True))
        assert not seen & {r.item.pk for r in recs}
    assert hits / (3 * len(planted["users"])) >= 0.75  # chance would be about 0.15


def test_too_little_data_fails_with_a_clear_message(user, items, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    services.record_interaction(user, items[0], "view")
    version = services.train()
    assert version.status == "failed"
    assert version.error.startswith("Not enough data to train")
    assert not version.is_active


def test_worse_version_is_kept_inactive_with_the_reason(trained_version, settings):
    trained_version.metrics["default"]["ndcg@10"] = 0.99
    trained_version.save()
    again = services.train()
    assert again.status == "ready" and not again.is_active
    assert "worse than the active version" in again.note
    assert ModelVersion.objects.active().get() == trained_version


def test_rollback_reactivates_the_previous_version(trained_version):
    newer = services.train()
    assert newer.is_active
    assert services.rollback() == trained_version
    trained_version.refresh_from_db()
    assert trained_version.is_active
    assert ModelVersion.objects.active().count() == 1


def test_corrupted_artifact_falls_back_to_popular(trained_version, planted):
    path = trained_version.artifact.path
    with open(path, "r+b") as fh:
        fh.seek(40)
        fh.write(b"garbage")
    from recommender import serving

    serving._SCORERS.clear()
    recs = services.recommend_for_user(planted["users"][0], limit=5)
    assert recs.source == "popular" and len(recs) == 5


def test_training_lock_refuses_a_second_run(trained_version):
    from recommender import cache

    assert cache.add_value("train-lock", 123, 60)
    with pytest.raises(services.TrainingBusy):
        services.train()
    cache.delete_value("train-lock")


def test_new_user_gets_personal_recommendations_from_current_history(
    trained_version, planted, django_user_model
):
    newcomer = django_user_model.objects.create_user("new@example.com", "pw")
    assert services.recommend_for_user(newcomer, limit=5).source == "popular"
    for item in planted["items"]["Music"][:3]:
        services.record_interaction(newcomer, item, "purchase")
    recs = services.recommend_for_user(newcomer, limit=5)
    assert recs.source == "computed"
    assert np.mean([r.item.categories.all()[0].name == "Music" for r in recs]) >= 0.8
