from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_missing_ticket_gets_a_friendly_404(admin_client):
    response = admin_client.get("/tickets/999999/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False, DATA_UPLOAD_MAX_NUMBER_FILES=1)
def test_too_many_files_get_a_friendly_400_not_a_500(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(f"f{i}.png", b"x") for i in range(3)]
    response = admin_client.post("/tickets/new/", {"subject": "s", "attachments": files})
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
