"""Search results show where the words matched: a passage, escaped, the words in <mark>, and for
text read from a screenshot or a frame, which file (and when in the recording)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AttachmentFactory, RenditionFactory, triaged_ticket
from triage.models import Attachment, Rendition, RenditionText
from triage.selectors.search_snippets import search_terms, snippet_html

pytestmark = pytest.mark.django_db


def test_terms_skip_operators_and_excluded_words():
    assert search_terms('"card declined" OR refund -spam') == ["card", "declined", "refund"]


def test_a_snippet_escapes_and_marks_every_match():
    html = snippet_html("<b>Refund</b> please: the refund never came", ["refund"])
    assert html == "&lt;b&gt;<mark>Refund</mark>&lt;/b&gt; please: the <mark>refund</mark> never came"
    assert snippet_html("nothing here", ["refund"]) is None


def test_a_whole_word_is_marked_before_a_match_inside_a_word():
    # "refunds" comes first, but the whole word "refund" is the match shown (and the only one marked)
    assert (
        snippet_html("refunds pending; refund now", ["refund"]) == "refunds pending; <mark>refund</mark> now"
    )
    # with no whole word, the match inside a word is shown
    assert snippet_html("two refunds pending", ["refund"]) == "two <mark>refund</mark>s pending"
    assert snippet_html("two refunds pending", ["card", "refund"]) == "two <mark>refund</mark>s pending"


def test_a_long_text_is_cut_around_the_first_match():
    text = ("lorem ipsum " * 40) + "the Kerberos ticket expired " + ("dolor sit " * 40)
    html = snippet_html(text, ["kerberos"])
    assert html.startswith("… ") and html.endswith(" …") and "<mark>Kerberos</mark> ticket expired" in html
    assert len(html) < 260


def test_the_queue_shows_snippets_from_the_description_and_from_a_screenshot(agent):
    described = triaged_ticket(subject="Help", description="My Kerberos login <script>x</script> fails")
    shot = triaged_ticket(subject="Something is wrong", description="see picture")
    rendition = RenditionFactory(attachment=AttachmentFactory(ticket=shot, original_name="error.png"))
    RenditionText.objects.create(rendition=rendition, text="Error: KERBEROS ticket expired", engine="test")
    html = agent.get(reverse("triage:review-queue"), {"q": "kerberos"}).content.decode()
    assert "My <mark>Kerberos</mark> login &lt;script&gt;x&lt;/script&gt; fails" in html
    assert "in screenshot &#x27;error.png&#x27;:</span> Error: <mark>KERBEROS</mark> ticket expired" in html
    assert described.id and "<script>x</script>" not in html


def test_a_frame_snippet_names_the_recording_and_the_moment(agent):
    ticket = triaged_ticket(subject="Video", description="watch it")
    video = AttachmentFactory(
        ticket=ticket, kind=Attachment.Kind.VIDEO, original_name="bug.mp4", mime="video/mp4"
    )
    frame = RenditionFactory(attachment=video, kind=Rendition.Kind.FRAME, index=3, timestamp_ms=72_000)
    RenditionText.objects.create(rendition=frame, text="Checkout timeout 504", engine="test")
    html = agent.get(reverse("triage:review-queue"), {"q": "timeout"}).content.decode()
    assert "in recording &#x27;bug.mp4&#x27; at 1:12:</span> Checkout <mark>timeout</mark> 504" in html


def test_no_search_no_snippet(agent):
    triaged_ticket(subject="Help", description="My Kerberos login fails")
    assert 'class="snippet"' not in agent.get(reverse("triage:review-queue")).content.decode()
