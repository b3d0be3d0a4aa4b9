"""A real browser (headless Chromium from Debian, driven by Selenium) draws the admin's charts.

Set RECOMMENDER_SCREENSHOTS=<folder> to save PNGs of the pages (docs/img/admin-dashboard.png
was made that way).
"""

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from recommender.models import Experiment, Impression, Interaction

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]

webdriver = pytest.importorskip("selenium.webdriver")
if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)

# For each chart on the page: does a Chart instance own the canvas, how many of its elements
# have a visible size (bars with height, points on the plot, arcs with an angle), how many
# pixels are painted.
CHART_STATE = """
const out = {};
for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
  const chart = Chart.getChart(canvas);
  let drawn = 0;
  if (chart) {
    chart.data.datasets.forEach((ds, n) => {
      for (const el of chart.getDatasetMeta(n).data) {
        const visible = el.circumference !== undefined ? el.circumference > 0
          : el.base !== undefined ? Math.abs(el.base - el.y) > 0.5
          : Number.isFinite(el.x) && Number.isFinite(el.y);
        if (visible) drawn++;
      }
    });
  }
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  out[canvas.id] = {chart: !!chart, type: chart ? chart.config.type : null, drawn, painted};
}
return out;
"""
READY = (
    "return typeof Chart !== 'undefined' && [...document.querySelectorAll("
    "'canvas[data-chart]')].every(c => Chart.getChart(c) !== undefined)"
)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def traffic(trained_version, second_version, planted):
    """Two weeks of tracked lists on three placements, with clicks and purchases, and an
    experiment between the two versions."""
    rng = random.Random(3)
    users, catalogue = planted["users"], [i for its in planted["items"].values() for i in its]
    experiment = Experiment.objects.create(
        name="EASE l2",
        version_a=trained_version,
        version_b=second_version,
        share_b=0.5,
        started_at=timezone.now() - timedelta(days=15),
    )
    lists, events, now = [], [], timezone.now()
    for day in range(14):
        for placement, ctr in (("home", 0.3), ("item", 0.2), ("basket", 0.1)):
            for _ in range(8):
                user, arm = rng.choice(users), rng.choice("ab")
                when = now - timedelta(days=day, hours=rng.randint(0, 20))
                shown = rng.sample(catalogue, 6)
                version = trained_version if arm == "a" else second_version
                lists.append(
                    Impression(
                        user=user,
                        placement=placement,
                        source="computed",
                        model_version=version,
                        experiment=experiment,
                        arm=arm,
                        item_ids=[i.external_id for i in shown],
                        created_at=when,
                    )
                )
                for kind, p in (("click", ctr), ("purchase", ctr / 3)):
                    if rng.random() < p:
                        events.append(
                            Interaction(
                                user=user,
                                item=shown[0],
                                event_type=kind,
                                timestamp=when,
                                rec_id=lists[-1].rec_id,
                            )
                        )
                events.append(
                    Interaction(
                        user=user, item=rng.choice(catalogue), event_type="view", timestamp=when
                    )
                )
    Impression.objects.bulk_create(lists)
    Interaction.objects.bulk_create(events)
    second_version.history = [
        {"epoch": e, "loss": 1.0 / (e + 1) + 0.2, "val_ndcg@10": 0.1 + 0.25 * (1 - 0.8**e)}
        for e in range(12)
    ]
    second_version.save(update_fields=["history"])
    return experiment


def log_in(browser, live_server, client, staff):
    client.force_login(staff)
    browser.get(live_server.url + reverse("admin:login"))
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "path": "/",
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        }
    )


def charts_on(browser, url):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(READY))
    # Script errors fail the test; a missing /favicon.ico (a network entry) does not.
    log = browser.get_log("browser")
    errors = [e for e in log if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors, errors
    return browser.execute_script(CHART_STATE)


def screenshot(browser, name):
    folder = os.environ.get("RECOMMENDER_SCREENSHOTS")
    if folder:
        for _ in range(2):  # the page reflows once the window is taller
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1400, min(height + 120, 4000))
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / name))
        browser.set_window_size(1400, 1000)


def assert_drawn(state, expected):
    assert set(state) == set(expected), state
    for chart_id, chart_type in expected.items():
        chart = state[chart_id]
        assert chart["chart"] and chart["type"] == chart_type, (chart_id, chart)
        assert chart["drawn"] > 0 and chart["painted"] > 1000, (chart_id, chart)


def test_dashboard_charts_render(browser, live_server, client, staff, traffic):
    log_in(browser, live_server, client, staff)
    state = charts_on(browser, live_server.url + reverse("admin:recommender_dashboard"))
    assert_drawn(
        state,
        {
            "chart-interactions": "bar",
            "chart-active-users": "line",
            "chart-coverage": "doughnut",
            "chart-rates-version": "bar",
            "chart-rates-placement": "bar",
        },
    )
    assert state["chart-rates-placement"]["drawn"] == 6  # two rates for each of 3 placements
    screenshot(browser, "admin-dashboard.png")


def test_model_version_pages_charts_render(
    browser, live_server, client, staff, traffic, second_version
):
    log_in(browser, live_server, client, staff)
    detail = reverse("admin:recommender_modelversion_change", args=[second_version.pk])
    state = charts_on(browser, live_server.url + detail)
    assert_drawn(state, {"chart-training-curve": "line"})
    assert state["chart-training-curve"]["drawn"] == 24  # loss and val_ndcg@10, 12 epochs
    screenshot(browser, "admin-version.png")
    changelist = reverse("admin:recommender_modelversion_changelist")
    assert_drawn(
        charts_on(browser, live_server.url + changelist), {"chart-version-metrics": "line"}
    )
    experiment = reverse("admin:recommender_experiment_change", args=[traffic.pk])
    assert_drawn(charts_on(browser, live_server.url + experiment), {"chart-arms": "bar"})
    screenshot(browser, "admin-experiment.png")
