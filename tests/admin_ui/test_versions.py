"""Model versions in the admin: metrics beside popularity, curves, train, activate, roll back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender import services
from recommender.models import ModelVersion

from .test_pages import chart_configs

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:recommender_modelversion_changelist"


def change_url(version):
    return reverse("admin:recommender_modelversion_change", args=[version.pk])


def test_list_shows_metrics_next_to_popularity_counts_and_time(client, staff, trained_version):
    client.force_login(staff)
    html = client.get(reverse(CHANGELIST)).content.decode()
    metrics = trained_version.metrics
    for name in ["ndcg@10", "recall@10", "coverage@10"]:
        assert f"{metrics['default'][name]:.4f}" in html
        assert f"{metrics['popularity'][name]:.4f}" in html
    assert "40 / 36 / " in html and "EASERecommender" in html
    assert f"{trained_version.training_seconds:.1f} s" in html


def test_list_charts_the_metrics_of_all_versions(client, staff, trained_version, second_version):
    client.force_login(staff)
    config = chart_configs(client.get(reverse(CHANGELIST)))["chart-version-metrics"]
    assert config["data"]["labels"][-1].startswith(f"#{trained_version.pk} ")
    ndcg = config["data"]["datasets"][0]
    assert ndcg["label"] == "NDCG@10"
    assert ndcg["data"] == [pytest.approx(trained_version.metrics["default"]["ndcg@10"])] * 2


def test_list_has_no_per_row_queries(client, staff):
    client.force_login(staff)
    for _ in range(3):
        ModelVersion.objects.create(
            algorithm="x.A", status="ready", metrics={"default": {"ndcg@10": 0.1}}
        )
    client.get(reverse(CHANGELIST))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(CHANGELIST))
    for n in range(12):
        ModelVersion.objects.create(algorithm="x.B", status="failed", error=f"err {n}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse(CHANGELIST))
    assert len(many) == len(few)


def test_detail_page_tabulates_metrics_next_to_popularity(client, staff, trained_version):
    client.force_login(staff)
    rows = client.get(change_url(trained_version)).context["metric_rows"]
    metrics = trained_version.metrics
    assert ("ndcg@10", metrics["default"]["ndcg@10"], metrics["popularity"]["ndcg@10"]) in rows
    assert {name for name, *_ in rows} >= {"ndcg@10", "recall@10", "coverage@10"}


def test_detail_page_charts_the_training_curve(client, staff, second_version):
    client.force_login(staff)
    config = chart_configs(client.get(change_url(second_version)))["chart-training-curve"]
    sets = {d["label"]: d for d in config["data"]["datasets"]}
    assert config["data"]["labels"] == [0, 1]
    assert sets["loss"]["data"] == [0.9, 0.5] and sets["loss"]["yAxisID"] == "loss"
    assert sets["val_ndcg@10"]["data"] == [0.2, 0.3]
    assert sets["val_ndcg@10"]["yAxisID"] == "metric"


def test_failed_run_shows_its_error(client, staff):
    failed = ModelVersion.objects.create(
        algorithm="x.A", status="failed", error="Traceback ...\nValueError: no items left"
    )
    client.force_login(staff)
    assert "ValueError: no items left" in client.get(reverse(CHANGELIST)).content.decode()
    page = client.get(change_url(failed)).content.decode()
    assert 'id="version-error"' in page and "ValueError: no items left" in page


def test_queued_version_page_refreshes_while_it_trains(client, staff):
    queued = ModelVersion.objects.create(algorithm="x.A", history=[{"epoch": 0, "loss": 1.0}])
    client.force_login(staff)
    page = client.get(change_url(queued)).content.decode()
    assert 'http-equiv="refresh"' in page and "1 epoch done so far" in page


def test_train_now_queues_and_the_eager_worker_trains(
    client, staff, trained_version, django_capture_on_commit_callbacks
):
    pytest.importorskip("recommender.tasks")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:recommender_modelversion_train"))
    newest = ModelVersion.objects.latest()
    assert newest.pk != trained_version.pk
    assert response.status_code == 302 and response["Location"] == change_url(newest)
    assert newest.status == "ready", newest.error  # Celery is eager in the tests
    assert newest.metrics["default"]["ndcg@10"] > 0


def test_train_now_marks_the_version_failed_when_it_cannot_start(
    client, staff, monkeypatch, django_capture_on_commit_callbacks
):
    tasks = pytest.importorskip("recommender.tasks")

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.train_model, "delay", broker_down)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:recommender_modelversion_train"))
    version = ModelVersion.objects.latest()
    assert version.status == "failed" and "broker unreachable" in version.error


def test_activate_button_and_roll_back(client, staff, trained_version, second_version):
    client.force_login(staff)
    page = client.get(change_url(second_version)).content.decode()
    assert 'id="activate"' in page
    client.post(reverse("admin:recommender_modelversion_activate", args=[second_version.pk]))
    assert services.active_version() == second_version
    assert "Activated by staff@example.com" in ModelVersion.objects.get(pk=second_version.pk).note
    # second_version is older than trained_version: rolling back from the newest goes to it
    client.post(reverse("admin:recommender_modelversion_activate", args=[trained_version.pk]))
    response = client.post(reverse("admin:recommender_modelversion_rollback"), follow=True)
    assert services.active_version() == second_version
    assert "Rolled back" in response.content.decode()


def test_roll_back_without_an_older_version_says_why(client, staff, trained_version):
    client.force_login(staff)
    response = client.post(reverse("admin:recommender_modelversion_rollback"), follow=True)
    assert "no earlier ready version" in response.content.decode()
    assert services.active_version() == trained_version


def test_activating_a_failed_version_is_refused_with_a_message(client, staff, trained_version):
    failed = ModelVersion.objects.create(algorithm="x.A", status="failed", error="boom")
    client.force_login(staff)
    response = client.post(
        reverse("admin:recommender_modelversion_activate", args=[failed.pk]), follow=True
    )
    assert "cannot be activated" in response.content.decode()
    assert services.active_version() == trained_version
