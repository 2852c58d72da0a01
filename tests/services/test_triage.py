from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import calibrated_version, pasted_log
from tests.kimi_fake import BILLING_REPLY
from triage import selectors
from triage.fields import CLASSIFIED_FIELDS, TAXONOMY_FIELDS
from triage.models import Ticket, TriageRun
from triage.services import review, sweep, triage

pytestmark = pytest.mark.django_db

GOOD_REPLY = BILLING_REPLY


def _ticket(**kw) -> Ticket:
    defaults = {
        "subject": "Rechnung doppelt abgebucht",
        "description": "Die Rechnung wurde zweimal von der Kreditkarte abgebucht. Bitte erstatten.",
        "status": Ticket.Status.TRIAGING,
    }
    return Ticket.objects.create(**{**defaults, **kw})


@pytest.fixture
def kimi(settings, kimi_fake):
    settings.TRIAGE_PROVIDER = "kimi"
    settings.KIMI_API_KEY = "sk-test"
    settings.KIMI_BASE_URL = kimi_fake.base_url
    settings.KIMI_MAX_RETRIES = 1
    settings.KIMI_TIMEOUT_S = 1.0
    return kimi_fake


def test_the_offline_model_triages_into_the_taxonomy(taxonomy):
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, provider="local")
    ticket.refresh_from_db()
    assert run.status == TriageRun.Status.DONE and run.provider == "local"
    assert ticket.status == Ticket.Status.NEEDS_REVIEW
    assert ticket.category in taxonomy.values("category")
    assert ticket.priority in taxonomy.values("priority")

    def words(text: str) -> set[str]:
        return {w.strip(".,!?:;'\"") for w in text.split()}

    # extractive: no invented words
    assert ticket.summary and words(ticket.summary) <= words(ticket.subject + " " + ticket.description)
    assert 0.0 <= ticket.confidence <= 1.0
    assert ticket.latest_run == run


def test_kimi_answer_is_recorded_with_tokens_and_latency(taxonomy, kimi):
    kimi.reply_json(GOOD_REPLY)
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id)
    ticket.refresh_from_db()
    assert run.status == TriageRun.Status.DONE, run.error_message
    assert run.provider == "kimi" and run.model == "kimi-k2.6"
    assert run.prompt_tokens > 0 and run.completion_tokens > 0 and run.latency_ms is not None
    assert (ticket.category, ticket.queue, ticket.language) == ("billing", "billing_team", "de")
    assert ticket.confidence == pytest.approx(0.66)


def _kimi_run(ticket: Ticket) -> TriageRun:
    return ticket.runs.get(provider="kimi")


def _assert_provisional(ticket: Ticket, run: TriageRun, *, failed_kind: str) -> None:
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.MANUAL_TRIAGE  # a person decides
    assert run.provider == "local" and run.status == TriageRun.Status.DONE
    assert run.provisional is True and run.details["failed_error_kind"] == failed_kind
    assert ticket.latest_run == run and ticket.category  # the offline proposal is there to check


def test_a_reply_that_stays_malformed_gets_a_provisional_offline_proposal_and_manual_triage(taxonomy, kimi):
    kimi.reply_json("this is not json {")
    kimi.reply_json("still not json")
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id)
    failed = _kimi_run(ticket)
    assert failed.status == TriageRun.Status.FAILED and failed.error_kind == "bad_output"
    assert "still not json" in failed.raw_output
    _assert_provisional(ticket, run, failed_kind="bad_output")
    assert run.catch_up is False  # the same reply would come back: no catch-up


def test_a_value_outside_the_taxonomy_is_not_accepted(taxonomy, kimi):
    bad = {**GOOD_REPLY, "category": {"value": "astrology", "confidence": 0.9}}
    kimi.reply_json(bad)
    kimi.reply_json(bad)
    ticket = _ticket()
    triage.ticket_triage(ticket_id=ticket.id)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert "astrology" in _kimi_run(ticket).error_message
    assert ticket.category != "astrology"


def test_an_api_that_is_down_is_tried_again_later_with_the_stated_wait(taxonomy, kimi):
    for _ in range(2):  # the first try and the SDK's one retry
        kimi.reply_error(429, "rate_limit_reached_error", "max RPM reached, please try again after 7 seconds")
    ticket = _ticket()
    with pytest.raises(triage.TriageRetryLater) as later:
        triage.ticket_triage(ticket_id=ticket.id)
    assert later.value.countdown_s == 7
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING  # still waiting for Kimi, not lost
    assert _kimi_run(ticket).status == TriageRun.Status.FAILED


def test_without_a_stated_wait_the_retries_back_off(taxonomy, kimi, settings):
    settings.KIMI_TASK_RETRY_BACKOFF_S = 10
    for _ in range(2):
        kimi.reply_error(500, "server_error", "internal error")
    with pytest.raises(triage.TriageRetryLater) as later:
        triage.ticket_triage(ticket_id=_ticket().id, attempt=2)
    assert later.value.countdown_s == 40


def test_after_the_last_try_the_offline_model_proposes_and_catch_up_is_allowed(taxonomy, kimi, settings):
    for _ in range(2):
        kimi.reply_error(500, "server_error", "internal error")
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, attempt=settings.KIMI_TASK_RETRIES)
    assert _kimi_run(ticket).error_kind == "upstream"
    _assert_provisional(ticket, run, failed_kind="upstream")
    assert run.catch_up is True and "internal error" in run.details["failed_error"]


def test_a_timeout_is_recorded_as_such(taxonomy, kimi, settings):
    settings.KIMI_MAX_RETRIES = 0
    settings.KIMI_TIMEOUT_S = 0.3
    kimi.reply_slow(2.0, GOOD_REPLY)
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, attempt=settings.KIMI_TASK_RETRIES)
    assert _kimi_run(ticket).error_kind == "timeout"
    _assert_provisional(ticket, run, failed_kind="timeout")


def test_a_crash_in_our_code_is_recorded_and_the_ticket_still_lands(taxonomy, monkeypatch):
    def boom(**_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(triage, "ticket_input_build", boom)
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, provider="local")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.MANUAL_TRIAGE
    assert run.error_kind == "bug" and "disk on fire" in run.error_message


def test_triage_of_a_ticket_not_waiting_for_it_is_a_no_op(taxonomy):
    ticket = _ticket(status=Ticket.Status.NEEDS_REVIEW)
    assert triage.ticket_triage(ticket_id=ticket.id, provider="local") is None
    assert not TriageRun.objects.exists()


def test_human_confirmed_values_are_never_overwritten_by_a_later_run(taxonomy):
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, provider="local")
    user = get_user_model().objects.create_user("rev")
    review.review_record(ticket_id=ticket.id, user=user, values={"category": "how_to", "priority": "low"})
    later = TriageRun.objects.create(ticket=ticket, provider="local", model="m")
    triage.triage_run_record(
        run_id=later.id,
        outcome=triage.TriageOutcome(
            provider="local", model="m", prompt_version="p", result=run_result(run), error_kind=""
        ),
    )
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED
    assert (ticket.category, ticket.priority) == ("how_to", "low")


def run_result(run: TriageRun):
    from triage.adapters.llm.schema import TriageResult

    return TriageResult.model_validate(run.result)


# --- what the model sees of the media ------------------------------------------------------------


def _recording(ticket: Ticket, *, representation: str, frames: int = 3):
    from tests.factories import AttachmentFactory, RenditionFactory
    from triage.models import Rendition

    video = AttachmentFactory(
        ticket=ticket,
        video=True,
        original_name="bug.mov",
        duration_s=42.0,
        metadata={"representation": representation},
    )
    for i in range(frames):
        RenditionFactory(attachment=video, kind=Rendition.Kind.FRAME, index=i, timestamp_ms=i * 61_000)
    RenditionFactory(
        attachment=video, kind=Rendition.Kind.THUMB, content=b"thumb", extension="jpg", mime="image/jpeg"
    )
    RenditionFactory(
        attachment=video, kind=Rendition.Kind.STORYBOARD, content=b"sheet", extension="jpg", mime="image/jpeg"
    )
    RenditionFactory(
        attachment=video, kind=Rendition.Kind.MODEL_VIDEO, content=b"mp4!", extension="mp4", mime="video/mp4"
    )
    return video


def test_frames_go_to_the_model_with_their_moment_and_never_the_thumbnail():
    ticket = _ticket()
    _recording(ticket, representation="frames")
    built = triage.ticket_input_build(ticket=ticket, accepts_video=True)
    assert [image.label for image in built.images] == [
        "frame at 00:00:00 of recording 'bug.mov'",
        "frame at 00:01:01 of recording 'bug.mov'",
        "frame at 00:02:02 of recording 'bug.mov'",
    ]
    assert built.videos == ()


def test_a_storyboard_goes_as_one_image_listing_the_moments_of_its_tiles():
    ticket = _ticket()
    _recording(ticket, representation="storyboard")
    built = triage.ticket_input_build(ticket=ticket)
    (sheet,) = built.images
    assert sheet.data == b"sheet"
    assert sheet.label == (
        "storyboard 1 of 1 of recording 'bug.mov': frames at 00:00:00, 00:01:01, 00:02:02, "
        "left to right, top to bottom"
    )


def test_the_video_itself_goes_to_a_provider_that_takes_video_and_frames_to_one_that_does_not():
    ticket = _ticket()
    _recording(ticket, representation="native-video")
    for_kimi = triage.ticket_input_build(ticket=ticket, accepts_video=True)
    assert [(v.data, v.mime, v.label) for v in for_kimi.videos] == [
        (b"mp4!", "video/mp4", "recording 'bug.mov' (42 s)")
    ]
    assert for_kimi.images == ()
    offline = triage.ticket_input_build(ticket=ticket, accepts_video=False)
    assert offline.videos == () and len(offline.images) == 3


def test_kimi_gets_the_recording_as_video_and_the_run_keeps_the_estimate(taxonomy, kimi):
    ticket = _ticket()
    _recording(ticket, representation="native-video")
    kimi.estimate_total = 4321
    kimi.reply_json(GOOD_REPLY)
    run = triage.ticket_triage(ticket_id=ticket.id)
    assert run.status == TriageRun.Status.DONE, run.error_message
    (part,) = [p for p in kimi.requests[0]["messages"][1]["content"] if p["type"] == "video_url"]
    assert part["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert run.estimated_prompt_tokens == 4321
    assert run.details["requests"] == 1 and run.details["trace_id"]


# --- tools over our own data, and the catch-up after Kimi trouble ------------------------------------------------------


def test_similar_tickets_rank_rare_shared_words_first_and_never_the_ticket_itself():
    from triage import selectors

    target = _ticket(subject="Checkout shows ERR_PAYMENT_DECLINED", description="error on pay")
    best = _ticket(subject="ERR_PAYMENT_DECLINED again", description="card error")
    weak = _ticket(subject="Some error", description="an error happened")
    _ticket(subject="Password reset", description="cannot log in")
    found = selectors.ticket_similar_list(query="ERR_PAYMENT_DECLINED error", exclude_id=target.id, limit=5)
    assert found[:2] == [best, weak] and target not in found


def test_kimi_gets_lookups_over_the_requesters_history(taxonomy, kimi):
    _ticket(
        subject="Earlier: invoice address", requester_email="kunde@example.com", status=Ticket.Status.REVIEWED
    )
    kimi.reply_tool_calls([("requester_recent_tickets", {"limit": 3})])
    kimi.reply_json(GOOD_REPLY)
    ticket = _ticket(requester_email="kunde@example.com")
    run = triage.ticket_triage(ticket_id=ticket.id)
    assert run.status == TriageRun.Status.DONE, run.error_message
    (call,) = run.details["tool_calls"]
    assert [t["subject"] for t in call["output"]["tickets"]] == ["Earlier: invoice address"]


def test_the_sweep_catches_up_a_provisional_ticket_once_when_kimi_is_configured(
    taxonomy, kimi, settings, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from triage import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.ticket_triage_task, "delay", lambda **kw: queued.append(kw["ticket_id"]))
    for _ in range(2):
        kimi.reply_error(500, "server_error", "down")
    ticket = _ticket()
    run = triage.ticket_triage(ticket_id=ticket.id, attempt=settings.KIMI_TASK_RETRIES)
    TriageRun.objects.filter(id=run.id).update(finished_at=timezone.now() - timedelta(hours=2))
    assert sweep.sweep_run()["catch_up"] == 1 and queued == [ticket.id]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.TRIAGING
    Ticket.objects.filter(id=ticket.id).update(status=Ticket.Status.MANUAL_TRIAGE)
    assert sweep.sweep_run()["catch_up"] == 0  # once only


def test_auto_accept_is_off_by_default(taxonomy, kimi):
    kimi.reply_json(GOOD_REPLY)
    ticket = _ticket()
    triage.ticket_triage(ticket_id=ticket.id)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEEDS_REVIEW


def test_auto_accept_records_an_automatic_decision_when_every_field_meets_its_calibrated_level(
    taxonomy, kimi, settings
):
    from triage.models import ReviewDecision

    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.5  # the language's level: the detector is surer than that
    version = calibrated_version(dict.fromkeys(TAXONOMY_FIELDS, 0.0))
    # auto-accept also needs the offline classifier to propose the same values (a second opinion
    # the ticket's words cannot instruct): Kimi's reply here carries the values it proposes
    offline = (
        triage._local_model()
        .triage(triage.ticket_input_build(ticket=_ticket()), selectors.taxonomy_get())
        .result
    )
    agreeing = GOOD_REPLY | {
        name: {"value": getattr(offline, name).value, "confidence": GOOD_REPLY[name]["confidence"]}
        for name in CLASSIFIED_FIELDS
    }
    kimi.reply_json(agreeing)
    confident = _ticket()
    run = triage.ticket_triage(ticket_id=confident.id)
    confident.refresh_from_db()
    assert run.details["offline_agrees"] is True
    assert confident.status == Ticket.Status.REVIEWED
    decision = ReviewDecision.objects.get(ticket=confident)
    assert decision.action == ReviewDecision.Action.AUTO and decision.user is None

    other = next(p for p in ("urgent", "low", "normal", "high") if p != offline.priority.value)
    kimi.reply_json(agreeing | {"priority": {"value": other, "confidence": 0.99}})
    contested = _ticket()
    run = triage.ticket_triage(ticket_id=contested.id)
    contested.refresh_from_db()
    assert run.details["offline_agrees"] is False  # the offline model said otherwise: a person decides
    assert contested.status == Ticket.Status.NEEDS_REVIEW

    # the calibration moves: the offline model's least sure field is now below its level
    weakest = min(
        ("category", "priority", "queue", "sentiment"), key=lambda n: getattr(offline, n).confidence
    )
    level = next(edge for edge in (0.2, 0.4, 0.6, 0.8) if edge > getattr(offline, weakest).confidence)
    version.delete()
    calibrated_version(dict.fromkeys(("category", "priority", "queue", "sentiment"), 0.0) | {weakest: level})
    kimi.reply_json(agreeing)
    unsure = _ticket()
    triage.ticket_triage(ticket_id=unsure.id)
    unsure.refresh_from_db()
    assert (
        unsure.status == Ticket.Status.NEEDS_REVIEW
        and not ReviewDecision.objects.filter(ticket=unsure).exists()
    )


def test_an_unsure_offline_model_turns_thinking_on_only_when_asked_to(taxonomy, kimi, settings):
    kimi.reply_json(GOOD_REPLY)
    triage.ticket_triage(ticket_id=_ticket().id)
    assert kimi.requests[-1]["thinking"] == {"type": "disabled"}  # default: no offline pre-pass
    settings.KIMI_THINKING_AUTO_CONFIDENCE = 0.999  # the offline model is never that sure
    kimi.reply_json(GOOD_REPLY)
    run = triage.ticket_triage(ticket_id=_ticket().id)
    assert kimi.requests[-1]["thinking"] == {"type": "enabled"}
    assert "ambiguous ticket (offline model confidence" in run.details["thinking_why"]


# --- what the model reads of a long ticket ------------------------------------------------------


def test_an_8_mb_body_reaches_kimi_as_head_and_tail_and_stays_whole_on_the_ticket(taxonomy, kimi, settings):
    settings.TRIAGE_MODEL_TEXT_CHARS = 20_000
    body = "Hello, checkout fails with HTTP 500.\n" + pasted_log(8_000_000) + "Thanks, Maria"
    kimi.reply_json(GOOD_REPLY)
    ticket = _ticket(description=body)
    run = triage.ticket_triage(ticket_id=ticket.id)
    assert run.status == TriageRun.Status.DONE, run.error_message
    (request,) = kimi.requests
    sent = request["messages"][1]["content"][0]["text"]
    assert len(sent) < 21_000  # the budget and the prompt's few labelled lines
    assert "Hello, checkout fails with HTTP 500." in sent and sent.endswith("Thanks, Maria")
    assert "line 00100000 of the pasted log" in body and "line 00100000" not in sent  # the middle
    ticket.refresh_from_db()
    assert ticket.description == body  # the full text is kept


def test_the_offline_model_reads_the_capped_text_too(taxonomy, settings):
    settings.TRIAGE_MODEL_TEXT_CHARS = 5_000
    ticket = _ticket(description="Bitte erstatten, doppelt abgebucht.\n" + pasted_log(3_000_000))
    built = triage.ticket_input_build(ticket=ticket)
    assert len(built.body) <= 5_000
    run = triage.ticket_triage(ticket_id=ticket.id, provider="local")
    assert run.status == TriageRun.Status.DONE
    ticket.refresh_from_db()
    assert "line 00050000" not in ticket.summary


def test_follow_ups_reach_the_model_newest_first_before_the_opening_message(settings):
    from django.utils import timezone

    from triage.models import InboundEmail

    settings.TRIAGE_MODEL_TEXT_CHARS = 1_000
    ticket = _ticket(channel=Ticket.Channel.EMAIL, description="OPENING: the invoice is wrong.")
    now = timezone.now()
    for n in range(5):
        email = InboundEmail.objects.create(
            dedupe_key=f"k{n}",
            source="raw",
            sha256="0" * 64,
            size_bytes=1,
            status=InboundEmail.Status.THREADED,
            ticket=ticket,
            from_email="maria@example.com",
            body_text=f"FOLLOW-UP {n} " + "x" * 250,
        )
        InboundEmail.objects.filter(id=email.id).update(received_at=now + timezone.timedelta(minutes=n))
    body = triage.ticket_input_build(ticket=ticket).body
    assert len(body) <= 1_000
    assert body.index("FOLLOW-UP 4") < body.index("FOLLOW-UP 3")
    assert "FOLLOW-UP 0" not in body and "earlier message(s) left out" in body
    assert body.index("FOLLOW-UP 3") < body.index("OPENING: the invoice is wrong.")  # kept, last


def test_an_auto_accepted_ticket_goes_only_to_destinations_whose_rule_takes_auto_accepted_ones(
    taxonomy, kimi, settings
):
    from triage.models import Destination, Handoff, RoutingRule

    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.5
    calibrated_version(dict.fromkeys(TAXONOMY_FIELDS, 0.0))
    offline = (
        triage._local_model()
        .triage(triage.ticket_input_build(ticket=_ticket()), selectors.taxonomy_get())
        .result
    )
    kimi.reply_json(
        GOOD_REPLY
        | {name: {"value": getattr(offline, name).value, "confidence": 0.95} for name in CLASSIFIED_FIELDS}
    )
    reviewed_only, auto_too = (
        Destination.objects.create(kind="slack", name=name, secret_encrypted="x") for name in ("a", "b")
    )
    RoutingRule.objects.create(name="reviewed only").destinations.set([reviewed_only])
    RoutingRule.objects.create(name="auto too", on_auto_accept=True).destinations.set([auto_too])
    ticket = _ticket()
    triage.ticket_triage(ticket_id=ticket.id)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REVIEWED
    assert list(Handoff.objects.filter(ticket=ticket).values_list("destination__name", flat=True)) == ["b"]


def test_the_offline_model_auto_accepts_only_once_a_calibration_supports_it(taxonomy, settings):
    settings.TRIAGE_PROVIDER = "local"
    settings.TRIAGE_AUTO_ACCEPT_ACCURACY = 0.5
    before = _ticket()
    triage.ticket_triage(ticket_id=before.id)
    before.refresh_from_db()
    assert before.status == Ticket.Status.NEEDS_REVIEW  # no trained version: never
    calibrated_version(dict.fromkeys(TAXONOMY_FIELDS, 0.0))
    after = _ticket()
    triage.ticket_triage(ticket_id=after.id)
    after.refresh_from_db()
    assert after.status == Ticket.Status.REVIEWED
