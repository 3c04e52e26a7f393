"""Messages between the parties, cancel from the page, disputes with evidence files, and
staff replies and decisions reaching both parties."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.tests.factories import UserFactory
from swaps import services
from swaps.models import Dispute, Notification, Swap
from swaps.tests.factories import make_swap, party

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_message_reaches_the_other_party_and_is_shown_to_both(api, client, swap_env):
    # given
    swap, _, (maker, _), (taker, _) = make_swap()
    api.force_authenticate(taker)
    # when
    sent = api.post(
        f"/api/v1/swaps/{swap.pk}/messages", {"body": "Locking in 5 min"}, format="json"
    )
    # then
    assert sent.status_code == 201 and sent.json()["mine"] is True
    api.force_authenticate(maker)
    [seen] = api.get(f"/api/v1/swaps/{swap.pk}/messages").json()
    assert seen["body"] == "Locking in 5 min" and seen["mine"] is False
    assert Notification.objects.filter(user=maker, swap=swap, kind="message").count() == 1
    client.force_login(maker)
    assert "Locking in 5 min" in client.get(f"/swaps/{swap.pk}/").content.decode()
    # and a stranger can neither read nor write
    api.force_authenticate(party(3)[0])
    assert api.get(f"/api/v1/swaps/{swap.pk}/messages").status_code == 404


def test_an_empty_or_long_message_is_refused_with_its_numbers(api, swap_env):
    swap, _, _, (taker, _) = make_swap()
    api.force_authenticate(taker)
    empty = api.post(f"/api/v1/swaps/{swap.pk}/messages", {"body": " "}, format="json")
    long = api.post(f"/api/v1/swaps/{swap.pk}/messages", {"body": "x" * 2500}, format="json")
    assert empty.json()["code"] == "blank"
    assert long.json()["code"] == "message_too_long" and "2000" in long.json()["detail"]


def test_the_taker_cancels_from_the_page(client, swap_env):
    swap, _, _, (taker, _) = make_swap()
    client.force_login(taker)
    assert "Cancel this swap" in client.get(f"/swaps/{swap.pk}/").content.decode()
    client.post(f"/swaps/{swap.pk}/cancel/")
    assert Swap.objects.get(pk=swap.pk).state == Swap.State.CANCELLED


def test_a_dispute_with_evidence_is_private_and_checked_by_content(client, swap_env, settings):
    # given
    swap, _, (maker, _), (taker, _) = make_swap()
    client.force_login(taker)
    files = [
        SimpleUploadedFile("screen.png", png(), content_type="image/png"),
        SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf"),
    ]
    # when
    client.post(
        f"/swaps/{swap.pk}/dispute/", {"message": "The seller went silent", "evidence": files}
    )
    # then
    dispute = Dispute.objects.get(swap=swap)
    kinds = sorted(e.content_type for e in dispute.evidence.all())
    assert kinds == ["application/pdf", "image/png"]
    evidence = dispute.evidence.get(content_type="image/png")
    assert str(settings.VAR_DIR) in evidence.file.path and "media" not in evidence.file.path
    assert client.get(f"/swaps/evidence/{evidence.pk}/").status_code == 200
    client.force_login(maker)
    assert client.get(f"/swaps/evidence/{evidence.pk}/").status_code == 200
    client.force_login(party(3)[0])
    assert client.get(f"/swaps/evidence/{evidence.pk}/").status_code == 404
    # and: a file that only claims to be an image is refused, naming it
    with pytest.raises(services.SwapError) as refused:
        services.dispute_open(
            swap=swap,
            user=taker,
            message="more",
            files=[SimpleUploadedFile("fake.png", b"\x89PNG\r\n\x1a\nnot really")],
        )
    assert refused.value.get_codes() == "evidence_type" and "fake.png" in str(refused.value)
    settings.SWAP_EVIDENCE_MAX_BYTES = 10
    with pytest.raises(services.SwapError) as large:
        services.dispute_open(
            swap=swap, user=taker, message="more", files=[SimpleUploadedFile("a.pdf", PDF)]
        )
    assert large.value.get_codes() == "evidence_too_large"


def test_staff_reply_and_decide_and_both_parties_read_the_outcome_and_reason(client, swap_env):
    # given
    swap, _, (maker, _), (taker, _) = make_swap()
    dispute = services.dispute_open(swap=swap, user=taker, message="No lock from the seller")
    staff = UserFactory(is_staff=True)
    # when
    services.dispute_reply(dispute=dispute, staff=staff, body="We are checking the chain.")
    services.dispute_resolve(
        dispute=dispute,
        staff=staff,
        outcome=Dispute.Outcome.MAKER_AT_FAULT,
        resolution="The seller never locked.",
    )
    # then
    for user in (taker, maker):
        note = Notification.objects.filter(user=user, kind="dispute_resolved").get()
        assert "the seller was at fault" in note.text
        assert "The seller never locked." in note.text
        client.force_login(user)
        html = client.get(f"/swaps/{swap.pk}/").content.decode()
        assert "We are checking the chain." in html and 'data-staff="true"' in html
        assert "Staff decided: the seller was at fault." in html
        assert "The seller never locked." in html


def test_staff_reply_and_decide_from_the_admin(client, swap_env):
    # given
    swap, _, (maker, _), (taker, _) = make_swap()
    services.swap_message_post(swap=swap, user=maker, body="I will lock soon")
    dispute = services.dispute_open(
        swap=swap,
        user=taker,
        message="Slow seller",
        files=[SimpleUploadedFile("s.png", png())],
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/swaps/dispute/{dispute.pk}/change/"
    # when
    page = client.get(url).content.decode()
    answer = client.post(
        url,
        {
            "reply": "Thanks, checking.",
            "outcome": "no_fault",
            "resolution": "The seller locked in time after all.",
            "messages-TOTAL_FORMS": "1",
            "messages-INITIAL_FORMS": "1",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
            "messages-0-id": str(dispute.messages.get().pk),
            "messages-0-dispute": str(dispute.pk),
        },
    )
    # then
    assert "I will lock soon" in page and "/swaps/evidence/" in page
    assert answer.status_code == 302, answer.content.decode()[:2000]
    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome) == ("resolved", "no_fault")
    assert dispute.messages.filter(body="Thanks, checking.").exists()
    assert Notification.objects.filter(user=taker, kind="dispute_staff_reply").exists()
