from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.factories import FAKE_MP4, AttachmentFactory, RenditionFactory, UserFactory, png_bytes
from triage.models import Rendition
from triage.views.media import ByteRange, RangeNotSatisfiable, byte_range_parse

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", (0, 499)),
        ("bytes=500-999", (500, 999)),
        ("bytes=500-", (500, 999)),
        ("bytes=-200", (800, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file is the whole file
        ("bytes=900-5000", (900, 999)),  # the end is clamped
        ("bytes=0-0", (0, 0)),
        ("bytes=999-999", (999, 999)),
        (" bytes = 10 - 19 ", (10, 19)),
    ],
)
def test_a_single_range_is_parsed_and_clamped(header, expected):
    assert byte_range_parse(header, size=SIZE) == ByteRange(*expected)


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=", "bytes=-", "items=0-10", "bytes=5-2", "bytes=0-1,5-9", "bytes=a-b", "0-10"],
)
def test_headers_we_may_ignore_mean_the_whole_file(header):
    assert byte_range_parse(header, size=SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=1000-", 1000), ("bytes=5000-6000", 1000), ("bytes=-0", 1000), ("bytes=0-", 0), ("bytes=-10", 0)],
)
def test_ranges_past_the_end_are_not_satisfiable(header, size):
    with pytest.raises(RangeNotSatisfiable):
        byte_range_parse(header, size=size)


def test_a_byte_range_knows_its_length_and_content_range():
    assert ByteRange(10, 19).length == 10
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"


# --- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def agent(client, db):
    client.force_login(UserFactory())
    return client


def assert_protected(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Accept-Ranges"] == "bytes"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_an_original_screenshot_is_served_inline_with_its_type_and_protective_headers(agent):
    data = png_bytes(50, 30)
    attachment = AttachmentFactory(content=data, original_name="checkout.png")
    response = agent.get(reverse("triage:attachment-file", args=[attachment.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="checkout.png"'
    assert response["Content-Length"] == str(len(data))
    assert response["ETag"] == f'"{attachment.sha256}"'
    assert_protected(response)
    assert body(response) == data


def test_a_rendition_is_served_with_the_rows_mime(agent):
    rendition = RenditionFactory(kind=Rendition.Kind.FRAME, index=2, timestamp_ms=4000)
    response = agent.get(reverse("triage:rendition-file", args=[rendition.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert_protected(response)
    with default_storage.open(rendition.file.name, "rb") as stored:
        assert body(response) == stored.read()


def test_the_content_type_comes_from_the_row_not_the_file_name(agent):
    attachment = AttachmentFactory(video=True, original_name="clip.txt")
    response = agent.get(reverse("triage:attachment-file", args=[attachment.id]))
    assert response["Content-Type"] == "video/mp4"


def test_a_range_request_gets_206_with_exactly_those_bytes(agent):
    attachment = AttachmentFactory(video=True)
    url = reverse("triage:attachment-file", args=[attachment.id])
    response = agent.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(FAKE_MP4)}"
    assert response["Content-Length"] == "100"
    assert response["Content-Type"] == "video/mp4"
    assert_protected(response)
    assert body(response) == FAKE_MP4[100:200]


def test_an_open_ended_and_a_suffix_range(agent):
    attachment = AttachmentFactory(video=True)
    url = reverse("triage:attachment-file", args=[attachment.id])
    size = len(FAKE_MP4)

    tail = agent.get(url, HTTP_RANGE=f"bytes={size - 10}-")
    assert tail.status_code == 206 and body(tail) == FAKE_MP4[-10:]
    assert tail["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"

    suffix = agent.get(url, HTTP_RANGE="bytes=-7")
    assert suffix.status_code == 206 and body(suffix) == FAKE_MP4[-7:]


def test_an_unsatisfiable_range_is_416_with_the_size(agent):
    attachment = AttachmentFactory(video=True)
    response = agent.get(
        reverse("triage:attachment-file", args=[attachment.id]), HTTP_RANGE=f"bytes={len(FAKE_MP4)}-"
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(FAKE_MP4)}"
    assert_protected(response)


def test_several_ranges_get_the_whole_file(agent):
    attachment = AttachmentFactory(video=True)
    response = agent.get(
        reverse("triage:attachment-file", args=[attachment.id]), HTTP_RANGE="bytes=0-1,10-11"
    )
    assert response.status_code == 200 and body(response) == FAKE_MP4


def test_if_range_with_another_etag_gets_the_whole_file(agent):
    attachment = AttachmentFactory(video=True)
    url = reverse("triage:attachment-file", args=[attachment.id])
    stale = agent.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"something-else"')
    assert stale.status_code == 200 and body(stale) == FAKE_MP4
    fresh = agent.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{attachment.sha256}"')
    assert fresh.status_code == 206 and body(fresh) == FAKE_MP4[:10]


def test_a_cached_copy_is_revalidated_with_the_content_hash(agent):
    attachment = AttachmentFactory()
    response = agent.get(
        reverse("triage:attachment-file", args=[attachment.id]), HTTP_IF_NONE_MATCH=f'"{attachment.sha256}"'
    )
    assert response.status_code == 304
    assert_protected(response)


def test_head_gives_the_headers_without_a_body(agent):
    attachment = AttachmentFactory(video=True)
    response = agent.head(reverse("triage:attachment-file", args=[attachment.id]))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(FAKE_MP4))
    assert body(response) == b""


def test_unknown_rows_and_missing_files_are_404(agent):
    assert agent.get(reverse("triage:attachment-file", args=[987654])).status_code == 404
    assert agent.get(reverse("triage:rendition-file", args=[987654])).status_code == 404
    attachment = AttachmentFactory()
    default_storage.delete(attachment.file.name)
    assert agent.get(reverse("triage:attachment-file", args=[attachment.id])).status_code == 404


def test_media_urls_only_answer_get_and_head(agent):
    attachment = AttachmentFactory()
    assert agent.post(reverse("triage:attachment-file", args=[attachment.id])).status_code == 405
