"""Every setting is documented with its default."""

from pathlib import Path

from recommender.conf import DEFAULTS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_every_setting_key_is_documented():
    text = DOCS.read_text()
    missing = [key for key in DEFAULTS if f"| `{key}` |" not in text]
    assert not missing, f"docs/settings.md lacks: {missing}"
