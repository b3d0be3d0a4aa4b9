"""track.js in a real browser (headless Chromium from Debian, driven by Selenium).

A click on a tracked link is reported to the API with its rec_id while the browser follows
the link; a like button is sent to the API without leaving the page.
"""

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from recommender.models import Interaction

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")

webdriver = pytest.importorskip("selenium.webdriver")
if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.api.pages")]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def signed_in(browser, live_server, user):
    client = Client()
    client.force_login(user)
    browser.get(live_server.url + "/items/x/")  # a page of the site, to set its cookie
    browser.delete_all_cookies()
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        }
    )
    browser.get(live_server.url + "/shop/")


def eventually(query, seconds=15.0):
    """The first row of ``query`` once the browser's request has landed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = query.first()
        if row is not None:
            return row
        time.sleep(0.1)
    raise AssertionError(f"nothing arrived within {seconds} s")


def test_a_click_is_reported_with_its_list_and_the_link_is_followed(
    browser, live_server, planted, cached_lists, trained_version
):
    user = planted["users"][9]
    cached_lists(user, ["music-6", "games-5", "books-4"])
    signed_in(browser, live_server, user)
    section = browser.find_element("css selector", "[data-recommender-rec-id]")
    rec_id = section.get_attribute("data-recommender-rec-id")
    browser.find_element("css selector", 'a[data-recommender-item="games-5"]').click()
    click = eventually(Interaction.objects.filter(event_type="click", user=user).exclude(rec_id=""))
    assert (click.item.external_id, click.rec_id) == ("games-5", rec_id)
    assert click.source_version == trained_version
    assert browser.current_url.endswith(f"/items/games-5/?rec_id={rec_id}")


def test_an_event_button_is_sent_without_leaving_the_page(browser, live_server, planted):
    user = planted["users"][10]
    signed_in(browser, live_server, user)
    browser.find_element("id", "like").click()
    like = eventually(Interaction.objects.filter(event_type="like", user=user))
    assert like.item.external_id == "books-1"
    assert browser.current_url.endswith("/shop/")
    assert "recommender-sent" in browser.find_element("css selector", "form").get_attribute("class")
