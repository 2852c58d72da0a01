"""Retrain the offline model on the reviewed tickets now (or enqueue it with --background)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Train a new version of the offline model's classifiers on every reviewed ticket."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="train even if few reviews are new")
        parser.add_argument("--background", action="store_true", help="enqueue on the media queue instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["background"]:
            from triage.tasks import classifier_train_task

            classifier_train_task.delay(force=options["force"])
            self.stdout.write("retraining enqueued")
            return
        from triage.services.offline_model import classifier_train

        row = classifier_train(force=options["force"])
        if row is None:
            self.stdout.write("nothing to train: no reviewed tickets, or none new since the last version")
            return
        summary = {
            "version": row.version,
            "n_reviewed": row.n_reviewed,
            "training_seconds": row.training_seconds,
            "heldout": row.metrics.get("heldout", {}),
        }
        self.stdout.write(json.dumps(summary))
