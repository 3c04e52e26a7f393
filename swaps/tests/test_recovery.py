"""The recovery kit: the file carries everything to refund or redeem with any wallet, and
`swap_recover` refunds a real lock on anvil from it with this site's database, web server
and workers out of the picture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chains.interface import LockState
from swaps import recovery
from swaps.tests.flow import detail, send, take, token

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_the_kit_carries_both_locks_and_their_exact_call_data(swap_env):
    # given
    swap, secret, (maker_api, _), (taker_api, taker_key), _ = take(swap_env, amount="1")
    # when
    kit = taker_api.get(f"/api/v1/swaps/{swap['id']}/recovery").json()
    # then
    assert kit["format"] == "p2pswap-recovery/1" and kit["role"] == "taker"
    assert kit["secret"] is None  # the server never has it before the redeem
    taker_leg, maker_leg = kit["legs"]["taker"], kit["legs"]["maker"]
    assert (taker_leg["network"], taker_leg["chain_id"]) == ("local-b", 31338)
    assert (maker_leg["network"], maker_leg["chain_id"]) == ("local-a", 31337)
    assert taker_leg["amount"] == "2.5" and taker_leg["amount_base_units"] == "2500000"
    assert (
        taker_leg["sender"] == taker_key.address and taker_leg["timelock"] == swap["taker_timelock"]
    )
    assert taker_leg["refund"]["data"] == "0x7249fbb6" + taker_leg["lock_id"][2:]
    assert "data" not in maker_leg["redeem"]
    # the lock id is the one the contract gives the taker's lock
    step = detail(taker_api, swap["id"])["next_action"]
    send(swap_env[1], taker_key, step)  # approve
    lock = detail(taker_api, swap["id"])["next_action"]
    assert lock["action"] == "lock"
    legs = recovery.parse(json.dumps({**kit, "secret": secret}))
    assert legs[0].mine and legs[0].redeem_data is None  # never redeem your own lock
    assert legs[1].redeem_data == "0xb31597ad" + maker_leg["lock_id"][2:] + secret[2:]
    assert maker_api.get(f"/api/v1/swaps/{swap['id']}/recovery").json()["role"] == "maker"


def test_swap_recover_refunds_a_real_lock_from_the_file_alone(swap_env, tmp_path):
    # given: the taker locked TEST on local-b and saved the kit with the secret
    a, b = swap_env
    swap, secret, _maker, (taker_api, taker_key), _ = take(swap_env, amount="1")
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    b.mine(1)
    kit = taker_api.get(f"/api/v1/swaps/{swap['id']}/recovery").json()
    path = tmp_path / "swap.recovery.json"
    path.write_text(json.dumps({**kit, "secret": secret}))
    test_b = token(b, "local-b")
    before = test_b.functions.balanceOf(taker_key.address).call()
    leg = kit["legs"]["taker"]
    rpc_url = b.node.rpc_url
    # and: no database to reach, nothing of this site running
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "RECOVERY_KEY": "0x" + bytes(taker_key.key).hex(),
    }
    command = [sys.executable, "manage.py", "swap_recover", str(path), "--rpc", rpc_url]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    # when: before the timelock
    early = run("--key-env", "RECOVERY_KEY")
    # then: nothing can be sent yet, and it says when
    assert early.returncode == 0, early.stderr
    assert "locked" in early.stdout and "nothing to send yet: refundable in" in early.stdout
    # when: the chain passes T1
    b.travel(leg["timelock"] - b.now() + 1)
    done = run("--key-env", "RECOVERY_KEY")
    # then: refunded to the taker, to the unit
    assert done.returncode == 0, done.stderr
    assert "refund sent: 0x" in done.stdout
    found = recovery.lock_on_chain(
        rpc_url=rpc_url, contract=leg["contract"], lock_id=leg["lock_id"]
    )
    assert found.state == LockState.REFUNDED
    assert test_b.functions.balanceOf(taker_key.address).call() == before + 2_500_000
    # and: a wrong chain is named
    wrong = subprocess.run(
        [sys.executable, "manage.py", "swap_recover", str(path), "--rpc", "http://127.0.0.1:1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode != 0 and "RPC does not answer" in wrong.stderr


@pytest.mark.django_db
def test_the_recovery_page_is_open_to_anyone_and_saves_as_one_file(client):
    # when
    page = client.get("/swaps/recover/")
    offline = client.get("/swaps/recover/offline.html", HTTP_ACCEPT_LANGUAGE="bn")
    # then
    assert page.status_code == 200 and 'id="kit-file"' in page.content.decode()
    html = offline.content.decode()
    assert offline["Content-Disposition"] == 'attachment; filename="swap-recovery.html"'
    # nothing fetched from anywhere: no script or stylesheet by URL, the script inline
    assert " src=" not in html and "<link" not in html
    assert "getLock(bytes32)" in html and 'id="recovery-texts"' in html
    assert '<html lang="bn">' in html
