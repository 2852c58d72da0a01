from __future__ import annotations

import pytest

from tests.factories import UserFactory, taxonomy_rows


@pytest.fixture
def view_taxonomy(db):
    """The test taxonomy the pages render labels and choices from."""
    taxonomy_rows()


@pytest.fixture
def agent(client):
    """A test client logged in as a support agent."""
    client.force_login(UserFactory())
    return client
