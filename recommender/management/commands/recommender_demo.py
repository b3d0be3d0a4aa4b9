"""Set up the demo shop: generated catalogue, users with tastes, their history, a trained model."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender import demo, services


class Command(BaseCommand):
    help = (
        "Create a demo shop (a generated catalogue, 81 users with distinct tastes and their "
        "history), an admin account, and a trained model, then print where to sign in. "
        "Running it again reuses what is there; --reset starts over."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data and generate it again."
        )
        parser.add_argument("--no-train", action="store_true", help="Skip training.")

    def handle(self, *args, reset=False, no_train=False, **options):
        self._check_services()
        if reset and demo.demo_exists():
            demo.reset_demo()
            self.stdout.write("Removed the previous demo data.")
        if demo.demo_exists():
            self.stdout.write("Demo data already present: reusing it (--reset to start over).")
        else:
            summary = demo.build_demo()
            self.stdout.write(
                f"Created {summary.items} items, {summary.users} users and "
                f"{summary.interactions} interactions."
            )
        self._admin()
        if not no_train and (reset or services.active_version() is None):
            self._train()
        self._welcome()

    def _check_services(self):
        if not os.environ.get("REDIS_URL"):
            return
        from django.core.cache import cache

        try:
            cache.set("recommender:ping", 1, 5)
        except Exception as exc:
            raise CommandError(
                f"Redis at REDIS_URL does not answer ({exc}): start it, or unset "
                "REDIS_URL to use the embedded default."
            ) from exc

    def _admin(self):
        User = get_user_model()
        field = User.USERNAME_FIELD
        name = "admin@demo.example" if field == "email" else "admin"
        if not User.objects.filter(**{field: name}).exists():
            User.objects.create_superuser(**{field: name, "password": "admin"})
            self.stdout.write(f"Created the admin account {name!r} (password 'admin').")

    def _train(self):
        self.stdout.write("Training the model (one line per epoch)...")
        version = services.train(
            on_epoch=lambda epoch, logs: self.stdout.write(
                f"  epoch {epoch:3d}  "
                + "  ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float | int))
            )
        )
        if version.status != "ready":
            raise CommandError(f"Training failed: {version.error.strip().splitlines()[-1]}")
        ndcg = version.metrics.get("default", {}).get("ndcg@10")
        self.stdout.write(
            self.style.SUCCESS(
                f"Version #{version.pk} trained in {version.training_seconds:.1f} s"
                + (f", NDCG@10 {ndcg:.3f}" if ndcg is not None else "")
                + f". {version.note}"
            )
        )

    def _welcome(self):
        User = get_user_model()
        email = User.USERNAME_FIELD == "email"
        shopper = "demo@demo.example" if email else "demo"
        admin = "admin@demo.example" if email else "admin"
        mode = (
            "Redis cache and Celery workers"
            if settings.CACHES["default"]["BACKEND"].startswith("django_redis")
            else "embedded default: SQLite, in-process cache, eager tasks"
        )
        self.stdout.write(
            self.style.SUCCESS(
                "\nThe demo shop is ready (" + mode + ").\n"
                "  Site:  http://127.0.0.1:8000/   sign in as " + f"{shopper!r} / password 'demo'\n"
                "  Admin: http://127.0.0.1:8000/admin/   " + f"{admin!r} / password 'admin'\n"
            )
        )
