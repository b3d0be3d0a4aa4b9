"""Settings: defaults, overrides, reload under override_settings."""

import pytest
from django.test import override_settings

from recommender.conf import DEFAULTS, app_settings


def test_defaults_fill_in_missing_keys():
    assert app_settings.LIST_LENGTH == DEFAULTS["LIST_LENGTH"] == 100
    assert app_settings.MAX_BATCH == 1000


def test_override_settings_reloads():
    with override_settings(RECOMMENDER={"LIST_LENGTH": 7, "EVENT_WEIGHTS": {"view": 0.5}}):
        assert app_settings.LIST_LENGTH == 7
        weights = app_settings.EVENT_WEIGHTS
        assert weights["view"] == 0.5
        assert weights["purchase"] == DEFAULTS["EVENT_WEIGHTS"]["purchase"]
    assert app_settings.LIST_LENGTH == 100


def test_unknown_key_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NOPE"):
        app_settings.NOPE  # noqa: B018
