"""Gas used by each Escrow operation stays under the ceilings stated in docs/gas.md.

Scenario (identical on both backends, documented in docs/gas.md under "Escrow"): every
account, the treasury included, already holds native coin; the buyer keeps a non-zero token
balance after depositing; the token release is the first token payout to seller and
treasury (their balances go from zero: the worst case), later token payouts go to holders;
release and resolve pay both sides (fee > 0, a 30/70 split).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chains.compiler import compile_contract

from .conftest import ZERO_ADDRESS
from .escrow_support import TREASURY, deposit

DOC = Path(__file__).resolve().parents[2] / "docs" / "gas.md"

# Ceilings: measured value (vyper 0.4.3, evm-version cancun, run on prague) plus ~5 %
# headroom, rounded up. Keep in sync with docs/gas.md (checked below).
CEILINGS = {
    "Escrow deploy": 1_521_000,
    "deposit (native)": 171_000,
    "deposit (token, first of that token)": 234_000,
    "deposit (token)": 216_000,
    "release (native)": 67_000,
    "release (token)": 108_000,
    "refund (native)": 54_000,
    "refund (token)": 60_000,
    "dispute": 44_000,
    "resolve (native)": 67_000,
    "resolve (token)": 67_000,
}


def measure(chain, owner, alice, bob, carol) -> dict[str, int]:
    """Gas used by each operation in the documented scenario."""
    arbiter = chain.accounts[5]
    used: dict[str, int] = {}
    compiled = compile_contract("Escrow")
    factory = chain.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    receipt = chain.transact(factory.constructor(arbiter.address, TREASURY), sender=owner)
    used["Escrow deploy"] = receipt["gasUsed"]
    escrow = chain.w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)
    chain.transact({"to": TREASURY}, sender=owner, value=10**18)

    token = chain.deploy("TestToken", "Test Token", "TST", 18, sender=owner)
    chain.transact(token.functions.mint(alice.address, 10**24), sender=owner)
    chain.transact(token.functions.approve(escrow.address, 10**24), sender=alice)

    def native(seed: int):
        return deposit(chain, escrow, depositor=alice, seller=bob.address, seed=seed)

    def tok(seed: int):
        return deposit(chain, escrow, depositor=alice, seller=bob.address, token=token, seed=seed)

    released = native(1)
    used["deposit (native)"] = released.receipt["gasUsed"]
    refunded, resolved = native(2), native(3)
    t_released = tok(4)
    used["deposit (token, first of that token)"] = t_released.receipt["gasUsed"]
    t_refunded = tok(5)
    used["deposit (token)"] = t_refunded.receipt["gasUsed"]
    t_resolved = tok(6)

    def gas(call, sender) -> int:
        return chain.transact(call, sender=sender)["gasUsed"]

    f = escrow.functions
    used["release (native)"] = gas(f.release(released.id), alice)
    used["release (token)"] = gas(f.release(t_released.id), alice)
    used["refund (native)"] = gas(f.refund(refunded.id), bob)
    used["refund (token)"] = gas(f.refund(t_refunded.id), bob)
    used["dispute"] = gas(f.dispute(resolved.id), alice)
    gas(f.dispute(t_resolved.id), bob)
    used["resolve (native)"] = gas(f.resolve(resolved.id, 3000), arbiter)
    used["resolve (token)"] = gas(f.resolve(t_resolved.id, 3000), arbiter)
    assert chain.balance(escrow.address) == 0
    assert token.functions.balanceOf(escrow.address).call() == 0
    assert escrow.functions.credits(ZERO_ADDRESS, bob.address).call() == 0
    return used


def test_escrow_gas_each_operation_under_ceiling(chain, owner, alice, bob, carol, record_property):
    # given / when
    used = measure(chain, owner, alice, bob, carol)
    for name, gas in used.items():
        record_property(f"gas[{name}]", gas)
    print(f"\n{chain.name} escrow gas: " + ", ".join(f"{k}={v}" for k, v in used.items()))
    # then
    over = {k: (v, CEILINGS[k]) for k, v in used.items() if v > CEILINGS[k]}
    assert not over, f"gas above ceiling (used, ceiling): {over}"


@pytest.mark.parametrize("operation", sorted(CEILINGS))
def test_escrow_gas_doc_states_each_ceiling(operation):
    # given the Escrow section's rows "| operation | eth-tester | anvil | ceiling |" (the
    # HTLC's table above it has rows of the same names)
    text = DOC.read_text(encoding="utf-8").split("\n# Escrow gas usage\n", 1)[1]
    pattern = rf"^\|\s*`{re.escape(operation)}`\s*\|(?:[^|\n]*\|){{2}}\s*([\d,]+)\s*\|"
    row = re.search(pattern, text, re.M)
    # then
    assert row, f"docs/gas.md has no row for {operation!r}"
    assert int(row.group(1).replace(",", "")) == CEILINGS[operation]
