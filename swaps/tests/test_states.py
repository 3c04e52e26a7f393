"""Swap states are named and ordered once, in swaps/models.py; pages show those labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from swaps import services
from swaps.models import HAPPY_PATH, TERMINAL_STATES, TRANSITIONS, Swap
from swaps.tests.factories import make_swap


def test_the_happy_path_is_a_chain_of_legal_moves_in_the_states_order():
    # then: it starts where a swap is born, each step is a legal move, it ends terminal
    assert HAPPY_PATH[0] == Swap._meta.get_field("state").default
    for here, after in zip(HAPPY_PATH, HAPPY_PATH[1:], strict=False):
        assert after in TRANSITIONS[here]
    assert HAPPY_PATH[-1] in TERMINAL_STATES
    # and Swap.State lists its states in that order, the early endings after it
    assert list(Swap.State)[: len(HAPPY_PATH)] == list(HAPPY_PATH)


def test_swap_templates_and_scripts_name_no_state_themselves():
    # given: what a hand-written state label or branch would look like
    values = "|".join(Swap.State.values)
    branch = re.compile(rf"""(==|!=)\s*["']({values})["']|["']({values})["']\s*:""")
    with translation.override("en"):
        labels = [str(label) for label in Swap.State.labels]
    root = Path(django_settings.BASE_DIR)
    files = [*(root / "templates" / "swaps").glob("*.html"), *(root / "static" / "js").glob("*.js")]
    # ("Created" is also a column heading; the state's own label has a context)
    retyped = [f'translate "{label}"' for label in labels if label != "Created"]
    retyped.append('context "swap state"')
    # then
    for path in files:
        source = path.read_text()
        assert not branch.search(source), path
        for text in retyped:
            assert text not in source, (path, text)


@pytest.mark.django_db
def test_a_flagged_swap_shows_its_label_from_the_model_on_both_pages(client, swap_env):
    # given
    with translation.override("en"):
        assert Swap.State.FLAGGED.label == "Flagged for review"
    swap, *_ = make_swap()
    services.swap_transition(swap_id=swap.pk, to=Swap.State.FLAGGED, cause="taker_lock_amount")
    client.force_login(swap.taker)
    # when
    detail = client.get(f"/swaps/{swap.pk}/").content.decode()
    mine = client.get("/swaps/").content.decode()
    client.cookies["django_language"] = "bn"
    detail_bn = client.get(f"/swaps/{swap.pk}/", HTTP_ACCEPT_LANGUAGE="bn").content.decode()
    # then
    assert 'data-state="flagged">Flagged for review' in detail
    assert '<span class="badge state-flagged">Flagged for review</span>' in mine
    for step in ("Created", "Buyer locked", "Seller locked", "Secret revealed", "Completed"):
        assert re.search(rf">\s*{step}\s*</li>", detail), step
    assert "পর্যালোচনার জন্য চিহ্নিত" in detail_bn
