"""Every page of the control room loads for staff, is refused to others, and stays cheap."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recommender.models import Experiment, Interaction, ModelVersion

from .conftest import track

pytestmark = pytest.mark.django_db


def chart_configs(response):
    """The Chart.js configs a page embeds (json_script), by chart id."""
    return {c.id: c.config for c in response.context.get("charts") or []}


@pytest.fixture
def pages(trained_version, second_version, planted):
    user = planted["users"][0]
    item = planted["items"]["Books"][0]
    experiment = Experiment.objects.create(
        name="ab", version_a=trained_version, version_b=second_version
    )
    return [
        reverse("admin:app_list", args=["recommender"]),
        reverse("admin:recommender_dashboard"),
        reverse("admin:recommender_dashboard") + "?days=7",
        reverse("admin:recommender_preview"),
        reverse("admin:recommender_preview") + f"?user={user.pk}",
        reverse("admin:recommender_preview") + f"?user={user.email}",
        reverse("admin:recommender_item_similar", args=[item.pk]),
        reverse("admin:recommender_item_change", args=[item.pk]),
        reverse("admin:recommender_modelversion_changelist"),
        reverse("admin:recommender_modelversion_change", args=[trained_version.pk]),
        reverse("admin:recommender_modelversion_change", args=[second_version.pk]),
        reverse("admin:recommender_experiment_change", args=[experiment.pk]),
        reverse("admin:recommender_experiment_add"),
        reverse("admin:recommender_forget_user", args=[user.pk]),
        reverse("admin:recommender_interaction_changelist"),
    ]


def test_every_page_loads_for_staff(client, staff, pages):
    client.force_login(staff)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url


def test_every_page_redirects_non_staff_to_the_login(client, user, pages):
    client.force_login(user)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_staff_without_the_model_permissions_are_refused(
    client, django_user_model, pages, trained_version
):
    clerk = django_user_model.objects.create_user("clerk@example.com", "pw", is_staff=True)
    client.force_login(clerk)
    for name, args in [
        ("recommender_dashboard", []),
        ("recommender_preview", []),
        ("recommender_forget_user", [clerk.pk]),
    ]:
        assert client.get(reverse(f"admin:{name}", args=args)).status_code == 403, name
    for name, args in [
        ("recommender_modelversion_train", []),
        ("recommender_modelversion_rollback", []),
        ("recommender_modelversion_activate", [trained_version.pk]),
        ("recommender_export_user", [clerk.pk]),
    ]:
        assert client.post(reverse(f"admin:{name}", args=args)).status_code == 403, name
    assert ModelVersion.objects.count() == 2  # nothing was queued


def test_view_permission_is_enough_to_read_but_not_to_act(
    client, django_user_model, trained_version
):
    reader = django_user_model.objects.create_user("reader@example.com", "pw", is_staff=True)
    reader.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_modelversion", "view_interaction"])
    )
    client.force_login(reader)
    assert client.get(reverse("admin:recommender_dashboard")).status_code == 200
    assert client.get(reverse("admin:recommender_preview")).status_code == 200
    page = client.get(reverse("admin:recommender_modelversion_changelist"))
    assert page.status_code == 200 and b'id="train-now"' not in page.content
    assert client.post(reverse("admin:recommender_modelversion_train")).status_code == 403


def test_state_changing_views_refuse_get(client, staff, trained_version, second_version):
    client.force_login(staff)
    experiment = Experiment.objects.create(
        name="ab", version_a=trained_version, version_b=second_version
    )
    for name, args in [
        ("recommender_modelversion_train", []),
        ("recommender_modelversion_rollback", []),
        ("recommender_modelversion_activate", [second_version.pk]),
        ("recommender_export_user", [staff.pk]),
        ("recommender_experiment_end", [experiment.pk]),
    ]:
        assert client.get(reverse(f"admin:{name}", args=args)).status_code == 405, name
    assert ModelVersion.objects.count() == 2 and ModelVersion.objects.active().count() == 1


def test_app_index_links_the_control_room(client, staff):
    client.force_login(staff)
    home = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:app_list", args=["recommender"]) in home
    page = client.get(reverse("admin:app_list", args=["recommender"])).content.decode()
    for name in [
        "recommender_dashboard",
        "recommender_preview",
        "recommender_modelversion_changelist",
    ]:
        assert reverse(f"admin:{name}") in page


def test_dashboard_embeds_its_charts_with_the_aggregated_figures(client, staff, user, items):
    version = ModelVersion.objects.create(algorithm="x.EASE", status="ready")
    track(user, items[:3], version=version, placement="home", clicks=[items[0]])
    track(user, items[3:6], version=version, placement="home")
    client.force_login(staff)
    response = client.get(reverse("admin:recommender_dashboard"))
    configs = chart_configs(response)
    assert set(configs) == {
        "chart-interactions",
        "chart-active-users",
        "chart-coverage",
        "chart-rates-version",
        "chart-rates-placement",
    }
    placement = configs["chart-rates-placement"]["data"]
    assert placement["labels"] == ["home"] and placement["datasets"][0]["data"] == [0.5]
    assert configs["chart-interactions"]["data"]["datasets"][0]["data"][-1] == 1  # the click
    assert configs["chart-coverage"]["data"]["datasets"][0]["data"] == [6, 4]
    html = response.content.decode()
    assert "recommender/vendor/chart.umd.min.js" in html
    assert 'id="chart-rates-version-data"' in html and 'data-chart="chart-coverage-data"' in html
    embedded = html.split('id="chart-coverage-data" type="application/json">')[1].split("<")[0]
    assert json.loads(embedded)["type"] == "doughnut"


def test_dashboard_takes_a_fixed_number_of_queries(client, staff, user, items):
    client.force_login(staff)
    url = reverse("admin:recommender_dashboard")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(6):
        version = ModelVersion.objects.create(algorithm="x.A", status="ready")
        track(user, items[:3], version=version, placement=f"p{n}", clicks=[items[n]])
        Interaction.objects.create(user=user, item=items[n], event_type="view")
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few) + 1  # only the names of the versions shown, in one query


def test_days_parameter_is_clamped(client, staff):
    client.force_login(staff)
    url = reverse("admin:recommender_dashboard")
    assert client.get(url + "?days=100000").context["days"] == 365
    assert client.get(url + "?days=-3").context["days"] == 1
    assert client.get(url + "?days=abc").context["days"] == 30
