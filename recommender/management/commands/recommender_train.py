"""Train a model version from the interaction log, evaluate it and activate it if it earns it."""

import json

from django.core.management.base import BaseCommand, CommandError

from recommender import services


class Command(BaseCommand):
    help = (
        "Train a new model version from the interactions in the database, evaluate it on the "
        "latest 20% of each user's history, and activate it if it beats popularity and is not "
        "worse than the active version. Prints one line per epoch."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--async",
            action="store_true",
            dest="run_async",
            help="Enqueue the training on the Celery 'training' queue and return.",
        )
        parser.add_argument(
            "--params",
            default="{}",
            help="JSON object of backend parameters, e.g. '{\"epochs\": 20}'.",
        )

    def handle(self, *args, run_async=False, params="{}", **options):
        try:
            params = json.loads(params)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object.")
        if run_async:
            return self._enqueue(params)
        try:
            version = services.train(params=params, on_epoch=self._epoch)
        except services.TrainingBusy as exc:
            raise CommandError(f"{exc} Wait for it, or check the worker running it.") from exc
        self._report(version)

    def _enqueue(self, params):
        from recommender import tasks

        version = services.enqueue_version(params)
        tasks.train_model.delay(version.pk)
        self.stdout.write(f"Enqueued training of version #{version.pk}.")

    def _epoch(self, epoch, logs):
        figures = "  ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float | int))
        self.stdout.write(f"epoch {epoch:3d}  {figures}")

    def _report(self, version):
        if version.status == "failed":
            raise CommandError(
                f"Training of version #{version.pk} failed: "
                f"{version.error.strip().splitlines()[-1]}"
            )
        for name, m in version.metrics.items():
            self.stdout.write(
                f"{name:>11}: NDCG@10 {m['ndcg@10']:.4f}  Recall@10 "
                f"{m['recall@10']:.4f}  HitRate@10 {m['hit@10']:.4f}  "
                f"Coverage@10 {m['coverage@10']:.4f}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Version #{version.pk} ready in {version.training_seconds:.1f} s "
                f"({version.n_users} users, {version.n_items} items). {version.note}"
            )
        )
