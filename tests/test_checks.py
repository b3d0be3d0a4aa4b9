"""System checks report misconfiguration with ids and hints."""

from django.test import override_settings

from recommender.checks import check_settings


def found():
    """Everything but the LocMem warning, which the test settings always raise."""
    return [e for e in check_settings() if e.id != "recommender.W001"]


def test_clean_configuration_has_no_errors():
    assert found() == []


@override_settings(RECOMMENDER={"CACHE_ALIAS": "nowhere"})
def test_unknown_cache_alias():
    (error,) = found()
    assert error.id == "recommender.E001"
    assert "default" in error.hint


@override_settings(DEBUG=False, SILENCED_SYSTEM_CHECKS=[])
def test_per_process_cache_without_debug_warns():
    assert "recommender.W001" in [e.id for e in check_settings()]


@override_settings(DEBUG=True)
def test_per_process_cache_is_fine_for_debug():
    assert "recommender.W001" not in [e.id for e in check_settings()]


@override_settings(RECOMMENDER={"LIST_LENGHT": 10})
def test_unknown_setting_key():
    (error,) = found()
    assert error.id == "recommender.E002"
    assert "LIST_LENGHT" in error.msg and "LIST_LENGTH" in error.hint


@override_settings(RECOMMENDER={"BACKEND": "recommender.ml.nothing.Model"})
def test_backend_that_does_not_import():
    (error,) = found()
    assert error.id == "recommender.E003"


@override_settings(RECOMMENDER={"EVENT_WEIGHTS": {"teleport": 1.0, "view": "heavy"}})
def test_bad_event_weights():
    assert [e.id for e in found()] == ["recommender.E004", "recommender.E004"]


@override_settings(
    RECOMMENDER={"ITEM_MODELS": {"shop.Nothing": {"title": "x"}, "testapp.Product": {"blurb": "x"}}}
)
def test_bad_item_models():
    assert [e.id for e in found()] == ["recommender.E005", "recommender.E005"]
