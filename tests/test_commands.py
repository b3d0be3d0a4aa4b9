"""Management commands: import (CSV, JSON Lines, MovieLens layouts), train, evaluate."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recommender.models import Interaction, Item, ModelVersion

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def files(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text(
        "external_id,title,description,categories,is_active\n"
        "a,Alpha,first,Books|Gifts,1\nb,Beta,second,Books,true\n"
        "c,Gamma,third,Music,0\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {
                    "user": "ann@example.com",
                    "item": "a",
                    "event_type": "view",
                    "timestamp": "2026-01-01T10:00:00Z",
                },
                {
                    "user": "ann@example.com",
                    "item": "b",
                    "event_type": "rating",
                    "value": 5,
                    "timestamp": 1767261600,
                },
                {"user": "new@example.com", "item": "c", "event_type": "purchase"},
            ]
        )
        + "\n"
    )
    return items, events


def test_import_csv_and_jsonl_is_idempotent(files, user):
    items, events = files
    out = run(
        "recommender_import", "--items", str(items), "--interactions", str(events), "--create-users"
    )
    assert "Items: 3 created" in out and "Interactions: 3 created" in out
    assert set(Item.objects.get(external_id="a").categories.values_list("name", flat=True)) == {
        "Books",
        "Gifts",
    }
    assert not Item.objects.get(external_id="c").is_active
    out = run(
        "recommender_import", "--items", str(items), "--interactions", str(events), "--create-users"
    )
    assert "Items: 0 created, 3 updated" in out and "0 created, 3 already stored" in out
    assert Interaction.objects.count() == 3


def test_import_reports_bad_rows_and_exits_non_zero(tmp_path, user, items):
    events = tmp_path / "events.csv"
    events.write_text(
        "user,item,event_type,value\n"
        "ann@example.com,i0,view,\n"
        "ann@example.com,nope,view,\n"
        "ghost@example.com,i1,view,\n"
        "ann@example.com,i2,rating,11\n"
    )
    with pytest.raises(CommandError, match="3 rows were rejected"):
        run("recommender_import", "--interactions", str(events))
    assert list(Interaction.objects.values_list("item__external_id", flat=True)) == ["i0"]


def test_import_without_arguments_says_what_to_give():
    with pytest.raises(CommandError, match="--items, --interactions or --movielens"):
        run("recommender_import")


def _movielens_100k(folder, n_users=12, n_items=10):
    folder.mkdir()
    lines = []
    for u in range(1, n_users + 1):
        for i in range(1, 8):
            item = (u + i) % n_items + 1
            lines.append(f"{u}\t{item}\t{1 + (u * i) % 5}\t{880000000 + u * 100 + i}")
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    genres = "|".join(["0"] * 19)
    (folder / "u.item").write_bytes(
        "".join(
            f"{i}|Film {i} (1995)|01-Jan-1995||http://x|{genres}\n" for i in range(1, n_items + 1)
        ).encode("latin-1")
    )
    return folder


def _movielens_latest(folder):
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Animation|Children\n2,Heat (1995),Action|Crime\n"
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964982704\n2,1,5.0,964982705\n"
    )
    return folder


def test_import_movielens_both_layouts(tmp_path):
    out = run("recommender_import", "--movielens", str(_movielens_100k(tmp_path / "ml100k")))
    assert "Interactions: 84 created" in out
    out = run("recommender_import", "--movielens", str(_movielens_latest(tmp_path / "latest")))
    assert "Items: 2 created" not in out  # movie-1 and movie-2 exist from the first import
    assert Interaction.objects.filter(event_id__startswith="movielens:").count() == 87


def test_import_movielens_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="expected u.data and u.item"):
        run("recommender_import", "--movielens", str(tmp_path))


def test_train_command_prints_progress_and_metrics(planted, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "BACKEND": "recommender.ml.baselines.EASERecommender",
    }
    out = run("recommender_train")
    assert "default: NDCG@10" in out and "popularity: NDCG@10" in out
    assert "ready" in out and ModelVersion.objects.active().exists()


def test_train_command_fails_with_a_message_on_too_little_data(user, items, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(CommandError, match="Not enough data"):
        run("recommender_train")


def test_train_command_refuses_bad_params():
    with pytest.raises(CommandError, match="--params"):
        run("recommender_train", "--params", "{oops")


def test_evaluate_movielens_writes_json_without_touching_the_database(tmp_path):
    folder = _movielens_100k(tmp_path / "ml", n_users=30, n_items=20)
    target = tmp_path / "out.json"
    out = run("recommender_evaluate", "--movielens", str(folder), "--json", str(target))
    figures = json.loads(target.read_text())
    assert set(figures) == {"default", "popularity"}
    assert set(figures["default"]) == {
        "ndcg@10",
        "recall@10",
        "hit@10",
        "coverage@10",
        "fit_seconds",
        "peak_memory_mb",
    }
    assert "NDCG@10" in out and not Item.objects.exists()


def test_evaluate_on_site_data(planted):
    out = run("recommender_evaluate")
    assert "default" in out and "popularity" in out


def test_evaluate_without_data_says_how_to_get_some():
    with pytest.raises(CommandError, match="recommender_import"):
        run("recommender_evaluate")
