"""Experiments: stable assignment close to the share, per-arm results, start and end."""

import pytest
from django.urls import reverse

from recommender import dashboard, experiments, services
from recommender.models import Experiment, ModelVersion

from .conftest import track

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(planted):
    return planted["items"]["Books"]


def test_bucket_is_stable_per_user_and_close_to_the_share():
    ids = range(20_000)
    first = [experiments.bucket(7, u) for u in ids]
    assert first == [experiments.bucket(7, u) for u in ids]
    assert all(0 <= b < 1 for b in first)
    for share in (0.1, 0.3, 0.5):
        observed = sum(b < share for b in first) / len(first)
        assert abs(observed - share) < 0.015  # about 4 standard errors at 20,000 users
    other = [experiments.bucket(8, u) for u in ids]
    both = sum(a < 0.5 and b < 0.5 for a, b in zip(first, other, strict=True)) / len(first)
    assert abs(both - 0.25) < 0.015  # another experiment splits users independently


def test_lists_record_the_arm_of_a_stable_split(trained_version, second_version, planted):
    experiment = services.start_experiment("split", trained_version, second_version, share_b=0.5)
    seen = {}
    for user in planted["users"]:
        recs = services.recommend_for_user(user, limit=3)
        arm = "b" if experiments.bucket(experiment.pk, user.pk) < 0.5 else "a"
        assert (recs.experiment_id, recs.arm) == (experiment.pk, arm)
        assert recs.version_id == {"a": trained_version.pk, "b": second_version.pk}[arm]
        assert services.recommend_for_user(user, limit=3).arm == arm  # stable
        seen[arm] = seen.get(arm, 0) + 1
    assert seen.get("a") and seen.get("b")


def test_start_refuses_what_cannot_be_compared(trained_version, second_version):
    failed = ModelVersion.objects.create(algorithm="x.A", status="failed")
    with pytest.raises(services.ExperimentError, match="different"):
        services.start_experiment("x", trained_version, trained_version)
    with pytest.raises(services.ExperimentError, match="not ready"):
        services.start_experiment("x", trained_version, failed)
    with pytest.raises(services.ExperimentError, match="between 0 and 1"):
        services.start_experiment("x", trained_version, second_version, share_b=1.0)
    services.start_experiment("first", trained_version, second_version)
    with pytest.raises(services.ExperimentError, match="still running"):
        services.start_experiment("second", trained_version, second_version)


def test_results_per_arm_with_intervals_and_a_significant_verdict(
    user, books, trained_version, second_version
):
    items = books
    experiment = Experiment.objects.create(
        name="ab", version_a=trained_version, version_b=second_version
    )
    for n in range(200):  # A: 200 lists, 20 clicked; B: 200 lists, 60 clicked, 10 bought
        track(
            user,
            items[:2],
            version=trained_version,
            experiment=experiment,
            arm="a",
            clicks=[items[0]] if n < 20 else [],
        )
        track(
            user,
            items[:2],
            version=second_version,
            experiment=experiment,
            arm="b",
            clicks=[items[0]] if n < 60 else [],
            purchases=[items[1]] if n < 10 else [],
        )
    result = dashboard.experiment_results(experiment)
    a, b = result.arms["a"], result.arms["b"]
    assert (a.shown, a.clicked, a.converted) == (200, 20, 0)
    assert (b.shown, b.clicked, b.converted) == (200, 60, 10)
    assert a.ctr == 0.1 and b.ctr == 0.3
    assert a.ctr_interval[0] < 0.1 < a.ctr_interval[1] < b.ctr_interval[0] < 0.3
    assert result.ctr.significant and result.ctr.p_value < 1e-5
    assert result.ctr.verdict.startswith("B has the higher click-through rate")
    assert result.ctr.low < 0.2 < result.ctr.high
    assert result.conversion.significant  # 0 of 200 against 10 of 200


def test_small_or_equal_arms_get_no_verdict(user, books, trained_version, second_version):
    items = books
    experiment = Experiment.objects.create(
        name="ab", version_a=trained_version, version_b=second_version
    )
    for arm in "ab":
        for n in range(5):
            track(user, items[:2], experiment=experiment, arm=arm, clicks=[items[0]] if n else [])
    result = dashboard.experiment_results(experiment)
    assert not result.ctr.significant and result.ctr.verdict.startswith("Too early")
    for arm in "ab":
        for n in range(40):
            track(
                user, items[:2], experiment=experiment, arm=arm, clicks=[items[0]] if n % 2 else []
            )
    result = dashboard.experiment_results(experiment)
    assert not result.ctr.significant and result.ctr.verdict.startswith("No significant difference")


def test_admin_creates_shows_and_ends_an_experiment(
    client, staff, user, books, trained_version, second_version
):
    items = books
    client.force_login(staff)
    response = client.post(
        reverse("admin:recommender_experiment_add"),
        {
            "name": "new model",
            "version_a": trained_version.pk,
            "version_b": second_version.pk,
            "share_b": "0.2",
        },
    )
    assert response.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.status, experiment.share_b) == ("running", 0.2)
    assert experiments.running()["id"] == experiment.pk
    track(user, items[:2], experiment=experiment, arm="b", clicks=[items[0]])
    page = client.get(reverse("admin:recommender_experiment_change", args=[experiment.pk]))
    assert page.context["result"].arms["b"].clicked == 1
    html = page.content.decode()
    assert 'id="arm-b"' in html and "Too early" in html and 'data-chart="chart-arms-data"' in html

    response = client.post(
        reverse("admin:recommender_experiment_end", args=[experiment.pk]),
        {"winner": "b"},
        follow=True,
    )
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner) == ("ended", second_version)
    assert experiment.ended_at is not None
    assert services.active_version() == second_version
    assert experiments.running() is None and experiments.arm_for(user.pk) is None
    assert "is now active" in response.content.decode()


def test_admin_form_refuses_a_second_running_experiment_and_bad_pairs(
    client, staff, trained_version, second_version
):
    client.force_login(staff)
    url = reverse("admin:recommender_experiment_add")
    same = client.post(
        url,
        {
            "name": "x",
            "version_a": trained_version.pk,
            "version_b": trained_version.pk,
            "share_b": "0.5",
        },
    )
    assert "Choose two different model versions." in same.content.decode()
    services.start_experiment("running", trained_version, second_version)
    again = client.post(
        url,
        {
            "name": "y",
            "version_a": second_version.pk,
            "version_b": trained_version.pk,
            "share_b": "0.5",
        },
    )
    assert again.status_code == 200 and "still running" in again.content.decode()
    assert Experiment.objects.count() == 1


def test_ending_needs_a_winner_of_the_experiment(client, staff, trained_version, second_version):
    experiment = services.start_experiment("e", trained_version, second_version)
    other = ModelVersion.objects.create(algorithm="x.A", status="ready")
    with pytest.raises(services.ExperimentError, match="not part of"):
        services.end_experiment(experiment, other)
    client.force_login(staff)
    client.post(reverse("admin:recommender_experiment_end", args=[experiment.pk]), {"winner": "z"})
    experiment.refresh_from_db()
    assert experiment.status == "running"
    services.end_experiment(experiment, trained_version)
    with pytest.raises(services.ExperimentError, match="already ended"):
        services.end_experiment(experiment, trained_version)
