"""Import a catalogue and interactions from CSV, JSON Lines or a MovieLens folder."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommender import importing

EXAMPLES = """
examples:
  manage.py recommender_import --items items.csv --interactions events.csv --create-users
  manage.py recommender_import --interactions events.jsonl
  manage.py recommender_import --movielens ../shared/datasets/ml-100k

items columns:        external_id, title, description, categories ("A|B" in CSV, a list in
                      JSON), url, is_active, properties (a JSON object)
interactions columns: user (the user's username/email), item (external_id), event_type
                      (view, click, like, add_to_cart, purchase, rating, dislike), value,
                      timestamp (ISO 8601 or Unix seconds), event_id (optional)
Running the same import twice stores each row once.
"""


class Command(BaseCommand):
    help = "Import items and interactions (CSV, JSON Lines, or a MovieLens folder)." + EXAMPLES

    def create_parser(self, prog_name, subcommand, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--items", metavar="FILE", help="Items as .csv or .jsonl.")
        parser.add_argument(
            "--interactions", metavar="FILE", help="Interactions as .csv or .jsonl."
        )
        parser.add_argument(
            "--movielens",
            metavar="PATH",
            help="A MovieLens folder (u.data/u.item or ratings.csv/movies.csv); creates its users.",
        )
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="Create users named in the interactions that do not exist.",
        )
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(
        self,
        *args,
        items=None,
        interactions=None,
        movielens=None,
        create_users=False,
        batch_size=5000,
        **options,
    ):
        if not (items or interactions or movielens):
            raise CommandError("Nothing to import: give --items, --interactions or --movielens.")
        rejected = []
        try:
            if movielens:
                rejected += self._movielens(movielens, batch_size)
            if items:
                rejected += self._items(importing.read_rows(items), None, batch_size)
            if interactions:
                rejected += self._events(
                    importing.read_rows(interactions), None, create_users, batch_size
                )
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if rejected:
            for line in rejected[:20]:
                self.stderr.write(f"  {line}")
            raise CommandError(f"{len(rejected)} rows were rejected (the rest were imported).")

    def _bar(self, total, unit):
        return tqdm(
            total=total,
            unit=f" {unit}",
            file=self.stdout,
            disable=None,
            leave=True,
            dynamic_ncols=True,
        )

    def _items(self, rows, total, batch_size):
        with self._bar(total, "items") as bar:
            report = importing.import_items(rows, batch_size=batch_size, progress=bar.update)
        self.stdout.write(
            f"Items: {report.created} created, {report.updated} updated, "
            f"{len(report.rejected)} rejected."
        )
        return report.rejected

    def _events(self, rows, total, create_users, batch_size):
        with self._bar(total, "events") as bar:
            report = importing.import_interactions(
                rows, create_users=create_users, batch_size=batch_size, progress=bar.update
            )
        self.stdout.write(
            f"Interactions: {report.created} created, {report.duplicates} "
            f"already stored, {len(report.rejected)} rejected."
        )
        return report.rejected

    def _movielens(self, path, batch_size):
        items, events, total = importing.movielens_rows(path)
        rejected = self._items(iter(items), len(items), batch_size)
        return rejected + self._events(events, total, True, batch_size)
