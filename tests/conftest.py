from __future__ import annotations

import os

import pytest
from django.conf import settings

pytest_plugins = ["tests.kimi_fake", "tests.worker", "tests.smtp_fake", "tests.handoff_fakes"]

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_report_header(config: pytest.Config) -> str:
    if settings.SERVICES_AVAILABLE:
        return "triage: PostgreSQL + Redis available: service tests run on the production shape"
    return (
        f"triage: {settings.SERVICES_MISSING}: running on SQLite + filesystem broker, service tests SKIPPED"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if settings.SERVICES_AVAILABLE:
        return
    skip = pytest.mark.skip(reason=f"needs PostgreSQL and Redis ({settings.SERVICES_MISSING})")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test writes media under its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def taxonomy(db):
    """The default taxonomy rows (a transactional test's flush removes the migration's copy)."""
    from triage import selectors
    from triage.services.taxonomy import taxonomy_seed_defaults

    taxonomy_seed_defaults()
    return selectors.taxonomy_get()
