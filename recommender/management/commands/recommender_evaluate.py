"""Evaluate the default model and the popularity baseline with the shared offline protocol."""

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from recommender.conf import app_settings

KEYS = ("ndcg@10", "recall@10", "hit@10", "coverage@10", "fit_seconds", "peak_memory_mb")


class Command(BaseCommand):
    help = (
        "Measure recommendation quality with the offline protocol (each user's latest 20% "
        "held out; NDCG@10, Recall@10, HitRate@10, Coverage@10). With --movielens PATH it "
        "reads a MovieLens folder (u.data/u.item or ratings.csv/movies.csv) and never touches "
        "the database; without it, it evaluates on this site's own interactions."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--movielens", metavar="PATH", help="MovieLens folder, e.g. ../shared/datasets/ml-100k"
        )
        parser.add_argument(
            "--json", metavar="FILE", dest="json_file", help="Also write the figures as JSON."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed of the default model."
        )

    def handle(self, *args, movielens=None, json_file=None, seed=None, **options):
        results = self._movielens(movielens, seed) if movielens else self._site(seed)
        self._print(results)
        if json_file:
            Path(json_file).write_text(_dumps(results))
            self.stdout.write(f"Wrote {json_file}")

    def _movielens(self, path, seed):
        from recommender.ml.baselines import PopularityRecommender
        from recommender.ml.content import featurize
        from recommender.ml.evaluation import evaluate_method
        from recommender.ml.movielens import load_movielens

        try:
            data = load_movielens(path)
        except FileNotFoundError as exc:
            raise CommandError(
                f"{exc}. Download MovieLens from grouplens.org and pass its folder."
            ) from exc
        position = {int(k): n for n, k in enumerate(data.item_ids)}

        def content_for(keys):
            rows = [position.get(int(k)) for k in keys]
            return featurize(
                [data.titles[r] if r is not None else "" for r in rows],
                [data.genres[r] if r is not None else [] for r in rows],
            )

        self.stdout.write(
            f"{len(data.users):,} ratings, {len(np.unique(data.users)):,} users, "
            f"{len(data.item_ids):,} movies"
        )
        factories = {"default": self._default_factory(seed), "popularity": PopularityRecommender}
        return {
            name: evaluate_method(
                factory, data.users, data.items, data.timestamps, content_for=content_for
            )
            for name, factory in factories.items()
        }

    def _default_factory(self, seed):
        backend = app_settings.import_class("BACKEND")
        params = dict(app_settings.BACKEND_PARAMS)
        if seed is not None:
            params["seed"] = seed
        return lambda: backend(**params)

    def _site(self, seed):
        from recommender.evaluate import evaluate_on_holdout
        from recommender.training import _prepare, content_matrix, load_training_data

        data = load_training_data()
        if not len(data):
            raise CommandError(
                "There are no interactions to evaluate on. Import some with "
                "recommender_import, or pass --movielens PATH."
            )
        results = evaluate_on_holdout(data, self._default_factory(seed), _prepare, content_matrix)
        if not results:
            raise CommandError("Too few users have 5 or more interactions to evaluate.")
        return results

    def _print(self, results):
        self.stdout.write(
            f"{'method':<12}{'NDCG@10':>9}{'Recall@10':>11}{'HitRate@10':>12}"
            f"{'Coverage@10':>13}{'fit s':>8}{'peak MB':>9}"
        )
        for name, m in results.items():
            peak = m.get("peak_memory_mb")
            self.stdout.write(
                f"{name:<12}{m['ndcg@10']:>9.4f}{m['recall@10']:>11.4f}{m['hit@10']:>12.4f}"
                f"{m['coverage@10']:>13.4f}{m['fit_seconds']:>8.1f}"
                f"{(f'{peak:.0f}' if peak is not None else '-'):>9}"
            )


def _dumps(results):
    out = {
        name: {k: (float(m[k]) if m.get(k) is not None else None) for k in KEYS}
        for name, m in results.items()
    }
    return json.dumps(out, indent=2) + "\n"
