"""Settings: everything from the environment (django-environ), one module per concern.

`make run` needs no configuration at all: SQLite, Celery's filesystem broker and the offline model.
With DJANGO_DEBUG off, secrets have no defaults and a missing one stops the start-up.
Each module imports what it needs from the others itself; the order below is the order in which a
missing production setting is reported (the secret key first, then the model provider's key, ...).
"""

from __future__ import annotations

# isort: off
from triage.settings.base import *  # noqa: F403
from triage.settings.database import *  # noqa: F403
from triage.settings.storage import *  # noqa: F403
from triage.settings.media import *  # noqa: F403
from triage.settings.reports import *  # noqa: F403
from triage.settings.celery import *  # noqa: F403
from triage.settings.providers import *  # noqa: F403
from triage.settings.email import *  # noqa: F403
from triage.settings.security import *  # noqa: F403
# isort: on
