"""Gas used by each HTLC operation stays under the ceilings stated in docs/gas.md.

Scenario (identical on both backends, documented in docs/gas.md): every
account already holds native coin; the token sender keeps a non-zero token
balance after locking; token recipients start with a zero token balance;
redeem/refund are sent by a third party.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chains.compiler import compile_contract

from .conftest import lock_erc20, lock_native

DOC = Path(__file__).resolve().parents[2] / "docs" / "gas.md"

# Ceilings: measured value (vyper 0.4.3, evm-version cancun, run on prague)
# plus ~5% headroom, rounded up. Keep in sync with docs/gas.md (checked below).
CEILINGS = {
    "deploy": 1_100_000,
    "lock": 172_000,
    "lockToken (first lock of that token)": 235_000,
    "lockToken": 217_000,
    "redeem (native)": 55_000,
    "redeem (token)": 79_000,
    "refund (native)": 54_000,
    "refund (token)": 55_000,
    "pause": 49_000,
    "unpause": 26_000,
}


def measure(chain, owner, alice, bob, carol) -> dict[str, int]:
    """Gas used by each operation in the documented scenario."""
    used: dict[str, int] = {}
    compiled = compile_contract("HTLC")
    factory = chain.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    receipt = chain.transact(factory.constructor(), sender=owner)
    used["deploy"] = receipt["gasUsed"]
    htlc = chain.w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)

    token = chain.deploy("TestToken", "Test Token", "TST", 18, sender=owner)
    chain.transact(token.functions.mint(alice.address, 10**24), sender=owner)
    chain.transact(token.functions.approve(htlc.address, 10**24), sender=alice)

    native_redeemed = lock_native(chain, htlc, sender=alice, recipient=bob.address, seed=1)
    used["lock"] = native_redeemed.receipt["gasUsed"]
    native_refunded = lock_native(chain, htlc, sender=alice, recipient=bob.address, seed=2, ttl=60)

    first = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address, seed=3)
    used["lockToken (first lock of that token)"] = first.receipt["gasUsed"]
    second = lock_erc20(chain, htlc, token, sender=alice, recipient=carol.address, seed=4, ttl=60)
    used["lockToken"] = second.receipt["gasUsed"]

    receipt = chain.transact(
        htlc.functions.redeem(native_redeemed.id, native_redeemed.preimage), sender=carol
    )
    used["redeem (native)"] = receipt["gasUsed"]
    receipt = chain.transact(htlc.functions.redeem(first.id, first.preimage), sender=carol)
    used["redeem (token)"] = receipt["gasUsed"]

    chain.advance(60)
    receipt = chain.transact(htlc.functions.refund(native_refunded.id), sender=carol)
    used["refund (native)"] = receipt["gasUsed"]
    receipt = chain.transact(htlc.functions.refund(second.id), sender=bob)
    used["refund (token)"] = receipt["gasUsed"]

    used["pause"] = chain.transact(htlc.functions.pause(), sender=owner)["gasUsed"]
    used["unpause"] = chain.transact(htlc.functions.unpause(), sender=owner)["gasUsed"]
    return used


def test_gas_each_operation_under_ceiling(chain, owner, alice, bob, carol, record_property):
    # given / when
    used = measure(chain, owner, alice, bob, carol)
    for name, gas in used.items():
        record_property(f"gas[{name}]", gas)
    print(f"\n{chain.name} gas: " + ", ".join(f"{k}={v}" for k, v in used.items()))
    # then
    over = {k: (v, CEILINGS[k]) for k, v in used.items() if v > CEILINGS[k]}
    assert not over, f"gas above ceiling (used, ceiling): {over}"


@pytest.mark.parametrize("operation", sorted(CEILINGS))
def test_gas_doc_states_each_ceiling(operation):
    # given the doc's table rows "| operation | eth-tester | anvil | ceiling |"
    text = DOC.read_text(encoding="utf-8")
    pattern = rf"^\|\s*`{re.escape(operation)}`\s*\|(?:[^|\n]*\|){{2}}\s*([\d,]+)\s*\|"
    row = re.search(pattern, text, re.M)
    # then
    assert row, f"docs/gas.md has no row for {operation!r}"
    assert int(row.group(1).replace(",", "")) == CEILINGS[operation]
