"""Certificate and query signature verification (``chains.icp.certificate``).

The certificates are signed for real by ``testing.icp_certification`` (BLS with py_ecc,
verified here with arkworks); no IC replica exists on this machine. Each refusal test
changes one thing about an otherwise valid certificate and expects one error type.
"""

from __future__ import annotations

import hashlib
import time

import cbor2
import pytest
from py_arkworks_bls12381 import G1Point
from py_ecc.fields import optimized_bls12_381_FQ as FQ

from chains.icp import (
    IC_ROOT_KEY,
    IcpCanisterNotInSubnet,
    IcpCertificateError,
    IcpCertificateStale,
    IcpDelegationInvalid,
    IcpProtocolError,
    IcpSignatureInvalid,
    verify_certificate,
)
from chains.icp.certificate import (
    Lookup,
    bls_public_key_from_der,
    bls_verify,
    hash_of_map,
    lookup_path,
    self_authenticating_id,
    tree_digest,
    verify_query_signatures,
)
from testing.icp_certification import BlsKey, Issuer, Mischief, uleb128
from testing.icp_server import ALL_CANISTERS, principal_from_text

LEDGER = principal_from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
XRC = principal_from_text("uf6dk-hyaaa-aaaaq-qaaaq-cai")
CKBTC = principal_from_text("mxzaz-hqaaa-aaaar-qaada-cai")
MAX_AGE = 300.0
ROOT = BlsKey()  # one test root key for the module; never a production key


def issuer(*, delegated=False, ranges=(ALL_CANISTERS,), ranges_format="sharded"):
    return Issuer(
        root=ROOT, delegated=delegated, canister_ranges=list(ranges), ranges_format=ranges_format
    )


def verify(data, *, canister=LEDGER, root_key=ROOT.der, max_age=MAX_AGE):
    return verify_certificate(
        data, canister_id=canister, root_key=root_key, max_age_seconds=max_age
    )


def reply_leaf(value=b"hello"):
    return {b"request_status": {bytes(32): {b"status": b"replied", b"reply": value}}}


# --------------------------------------------------------------------------- hash trees

# The interface specification's example tree ("Example"), and its root hash.
SPEC_TREE = [
    1,
    [
        1,
        [2, b"a", [1, [1, [2, b"x", [3, b"hello"]], [0]], [2, b"y", [3, b"world"]]]],
        [2, b"b", [3, b"good"]],
    ],
    [1, [2, b"c", [0]], [2, b"d", [3, b"morning"]]],
]
SPEC_ROOT_HASH = "eb5c5b2195e62d996b84c9bcc8259d19a83786a2f59e0878cec84c811f669aa0"


def pruned_spec_tree():
    """The spec's example with /a/x, /b's value and /c pruned: same root hash."""
    a_left = [1, [2, b"x", [3, b"hello"]], [0]]
    c_part = [2, b"c", [0]]
    return [
        1,
        [
            1,
            [2, b"a", [1, [4, tree_digest(a_left)], [2, b"y", [3, b"world"]]]],
            [2, b"b", [4, tree_digest([3, b"good"])]],
        ],
        [1, [4, tree_digest(c_part)], [2, b"d", [3, b"morning"]]],
    ]


def test_tree_digest_spec_example_matches_the_spec_root_hash():
    # when / then
    assert tree_digest(SPEC_TREE).hex() == SPEC_ROOT_HASH
    assert tree_digest(pruned_spec_tree()).hex() == SPEC_ROOT_HASH


@pytest.mark.parametrize(
    ("path", "outcome", "value"),
    [
        ([b"a", b"y"], Lookup.FOUND, b"world"),
        ([b"d"], Lookup.FOUND, b"morning"),
        ([b"a", b"x"], Lookup.UNKNOWN, None),  # pruned
        ([b"b"], Lookup.UNKNOWN, None),  # its value pruned
        ([b"bb"], Lookup.UNKNOWN, None),  # could sit in the pruned part before "d"
        ([b"aa"], Lookup.ABSENT, None),  # provably between "a" and "b"
        ([b"e"], Lookup.ABSENT, None),  # after the last label
        ([b"a"], Lookup.ERROR, None),  # an inner node, not a leaf
    ],
)
def test_lookup_path_tells_found_absent_unknown_and_error_apart(path, outcome, value):
    # when / then
    assert lookup_path(pruned_spec_tree(), path) == (outcome, value)


@pytest.mark.parametrize(
    "tree",
    [[9], [3], [3, "text"], [4, b"short"], [2, b"a"], "leaf", [], [1, [0]], [True, b"x"]],
)
def test_malformed_tree_is_refused_as_certificate_error(tree):
    # when / then
    with pytest.raises(IcpCertificateError, match="hash tree"):
        tree_digest(tree)


def test_hostile_deep_tree_is_refused_without_exhausting_the_stack():
    # given a labeled chain 5000 deep
    tree: list = [3, b"x"]
    for _ in range(5000):
        tree = [2, b"a", tree]
    # when / then
    with pytest.raises(IcpCertificateError, match="too deep"):
        tree_digest(tree)


def test_hash_of_map_nested_matches_spec_request_id_example():
    # given the spec's worked request id example, nested one level
    content = {
        "request_type": "call",
        "sender": b"\x04",
        "ingress_expiry": 1685570400000000000,
        "canister_id": b"\x00\x00\x00\x00\x00\x00\x04\xd2",
        "method_name": "hello",
        "arg": b"DIDL\x00\xfd*",
    }
    expected = "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
    # when / then
    assert hash_of_map(content).hex() == expected
    inner = hashlib.sha256(hashlib.sha256(b"m").digest() + bytes.fromhex(expected)).digest()
    assert hash_of_map({"m": content}) == inner


# --------------------------------------------------------------------------- BLS


def test_bls_verify_accepts_py_ecc_signature_and_refuses_another_message():
    # given a signature made by py_ecc (the independent implementation)
    key = BlsKey(secret=123456789)
    signature = key.sign(b"message")
    # when / then
    assert bls_verify(signature, b"message", key.public_key)
    assert not bls_verify(signature, b"messagE", key.public_key)
    assert not bls_verify(signature, b"message", BlsKey(secret=987654321).public_key)


def test_bls_verify_refuses_identity_malformed_and_wrong_length_points():
    # given
    key = BlsKey(secret=42)
    good = key.sign(b"m")
    identity_g1 = b"\xc0" + bytes(47)
    identity_g2 = b"\xc0" + bytes(95)
    # when / then
    assert not bls_verify(identity_g1, b"m", key.public_key)
    assert not bls_verify(good, b"m", identity_g2)
    assert not bls_verify(b"\xff" * 48, b"m", key.public_key)
    assert not bls_verify(good[:47], b"m", key.public_key)
    assert not bls_verify(good, b"m", key.public_key[:95])


def test_bls_verify_refuses_a_curve_point_outside_the_prime_order_subgroup():
    # given a point on y^2 = x^3 + 4 that is not in G1 (the cofactor is not cleared)
    p = FQ.field_modulus
    x = 1
    while True:
        rhs = FQ(x) ** 3 + FQ(4)
        y = rhs ** ((p + 1) // 4)
        if y * y == rhs:
            break
        x += 1
    flags = 0x80 | (0x20 if int(y) > (p - 1) // 2 else 0)
    raw = (x.to_bytes(48, "big")[0] | flags).to_bytes(1, "big") + x.to_bytes(48, "big")[1:]
    G1Point.from_compressed_bytes_unchecked(raw)  # it is on the curve
    with pytest.raises(ValueError):
        G1Point.from_compressed_bytes(raw)  # and the checked decoder refuses it
    # when / then
    assert not bls_verify(raw, b"m", BlsKey(secret=7).public_key)


def test_bls_public_key_from_der_mainnet_key_and_bad_keys():
    # when / then
    assert len(bls_public_key_from_der(IC_ROOT_KEY)) == 96
    with pytest.raises(ValueError, match="133"):
        bls_public_key_from_der(IC_ROOT_KEY[:-1])
    with pytest.raises(ValueError, match="prefix"):
        bls_public_key_from_der(b"\x00" + IC_ROOT_KEY[1:])


def test_mainnet_root_key_is_the_nns_subnet_key():
    # given the NNS subnet id, which is the self-authenticating id of the root key
    nns = principal_from_text("tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe")
    # when / then
    assert self_authenticating_id(IC_ROOT_KEY) == nns


# --------------------------------------------------------------------------- certificates


def test_verify_certificate_valid_root_signed_certificate_returns_its_tree():
    # given
    data = issuer().certificate(reply_leaf(), Mischief())
    # when
    cert = verify(data)
    # then
    assert cert.lookup([b"request_status", bytes(32), b"reply"]) == b"hello"
    assert cert.lookup([b"request_status", bytes(32), b"reject_code"]) is None
    assert abs(cert.time_ns - time.time_ns()) < 5 * 10**9
    assert cert.subnet_id == self_authenticating_id(ROOT.der)
    assert not cert.delegated


@pytest.mark.parametrize("ranges_format", ["sharded", "subnet"])
def test_verify_certificate_valid_delegated_certificate_returns_its_tree(ranges_format):
    # given a subnet holding the ledger's range, in either range format
    subnet = issuer(delegated=True, ranges=[(LEDGER, LEDGER)], ranges_format=ranges_format)
    data = subnet.certificate(reply_leaf(), Mischief())
    # when
    cert = verify(data)
    # then
    assert cert.delegated and cert.subnet_id == subnet.subnet_id
    assert cert.lookup([b"request_status", bytes(32), b"reply"]) == b"hello"


def test_verify_certificate_one_leaf_byte_tampered_is_refused():
    # given
    data = issuer().certificate(reply_leaf(), Mischief(tamper_leaf=True))
    # when / then
    with pytest.raises(IcpSignatureInvalid, match="does not verify under the root key"):
        verify(data)


def test_verify_certificate_delegated_one_leaf_byte_tampered_is_refused():
    # given
    data = issuer(delegated=True).certificate(reply_leaf(), Mischief(tamper_leaf=True))
    # when / then
    with pytest.raises(IcpSignatureInvalid, match="key from the delegation"):
        verify(data)


def test_verify_certificate_wrong_root_key_is_refused():
    # given a certificate of this test root, checked against mainnet's key
    data = issuer().certificate(reply_leaf(), Mischief())
    # when / then
    with pytest.raises(IcpSignatureInvalid):
        verify(data, root_key=IC_ROOT_KEY)


def test_verify_certificate_delegated_wrong_root_key_is_refused_as_bad_delegation():
    # given
    data = issuer(delegated=True).certificate(reply_leaf(), Mischief())
    # when / then
    with pytest.raises(IcpDelegationInvalid, match="not signed by the root key"):
        verify(data, root_key=IC_ROOT_KEY)


@pytest.mark.parametrize("offset", [-(MAX_AGE + 30), MAX_AGE + 30])
def test_verify_certificate_time_outside_bound_is_refused_as_stale(offset):
    # given a certificate from 5.5 minutes ago, or 5.5 minutes ahead
    data = issuer().certificate(reply_leaf(), Mischief(clock_offset_seconds=offset))
    # when / then
    with pytest.raises(IcpCertificateStale, match="at most 300s") as caught:
        verify(data)
    assert caught.value.age_seconds == pytest.approx(-offset, abs=5)


def test_verify_certificate_time_inside_bound_is_accepted_and_bound_is_configurable():
    # given a certificate 4 minutes old
    data = issuer().certificate(reply_leaf(), Mischief(clock_offset_seconds=-240))
    # when / then
    assert verify(data, max_age=MAX_AGE).time_ns < time.time_ns()
    with pytest.raises(IcpCertificateStale):
        verify(data, max_age=60)


def test_verify_certificate_forged_delegation_is_refused():
    # given a subnet that signs its own delegation instead of the root
    data = issuer(delegated=True).certificate(reply_leaf(), Mischief(forge_delegation=True))
    # when / then
    with pytest.raises(IcpDelegationInvalid, match="not signed by the root key"):
        verify(data)


def test_verify_certificate_delegation_with_another_subnet_key_is_refused():
    # given a root-signed delegation that publishes a key the subnet does not sign with
    data = issuer(delegated=True).certificate(reply_leaf(), Mischief(wrong_subnet_key=True))
    # when / then
    with pytest.raises(IcpSignatureInvalid, match="key from the delegation"):
        verify(data)


@pytest.mark.parametrize("ranges_format", ["sharded", "subnet"])
def test_verify_certificate_canister_outside_subnet_ranges_is_refused(ranges_format):
    # given a subnet holding the XRC's and ckBTC's ranges, not the ICP ledger's
    subnet = issuer(
        delegated=True, ranges=[(XRC, XRC), (CKBTC, CKBTC)], ranges_format=ranges_format
    )
    data = subnet.certificate(reply_leaf(), Mischief())
    # when / then: valid for the canisters it holds, refused for the ledger
    assert verify(data, canister=XRC).delegated
    assert verify(data, canister=CKBTC).delegated
    with pytest.raises(IcpCanisterNotInSubnet):
        verify(data, canister=LEDGER)
    with pytest.raises(IcpCanisterNotInSubnet):
        verify(data, canister=XRC[:-3] + b"\x11\x01\x01")  # just above the XRC's range


def test_verify_certificate_nested_delegation_is_refused():
    # given
    data = issuer(delegated=True).certificate(reply_leaf(), Mischief(nested_delegation=True))
    # when / then
    with pytest.raises(IcpDelegationInvalid, match="delegation of its own"):
        verify(data)


def test_verify_certificate_without_time_is_refused():
    # given a correctly signed tree without /time
    tree = [2, b"x", [3, b"y"]]
    signature = ROOT.sign(b"\x0dic-state-root" + tree_digest(tree))
    data = cbor2.dumps({"tree": tree, "signature": signature})
    # when / then
    with pytest.raises(IcpCertificateError, match="no /time"):
        verify(data)


@pytest.mark.parametrize(
    "data",
    [b"\xff\x00", cbor2.dumps([1, 2]), cbor2.dumps({"tree": [0]}), cbor2.dumps({"signature": b""})],
)
def test_verify_certificate_malformed_is_refused_as_protocol_error(data):
    # when / then
    with pytest.raises(IcpCertificateError) as caught:
        verify(data)
    assert isinstance(caught.value, IcpProtocolError)


# --------------------------------------------------------------------------- query signatures


def signed_answer(subnet, mischief=None, request_id=b"\x01" * 32):
    answer = {"status": "replied", "reply": {"arg": b"DIDL\x00\x01}\x2a"}}
    answer["signatures"] = subnet.sign_query(answer, request_id, mischief or Mischief())
    return answer


def node_keys(subnet):
    return {n.node_id: n.der for n in subnet.nodes}


def check(answer, subnet, request_id=b"\x01" * 32):
    verify_query_signatures(
        answer, request_id=request_id, node_keys=node_keys(subnet), max_age_seconds=MAX_AGE
    )


def test_query_signature_by_a_subnet_node_is_accepted():
    # given
    subnet = issuer()
    # when / then: no error
    check(signed_answer(subnet), subnet)


def test_query_signature_of_a_rejection_is_checked_too():
    # given a signed rejection, then the same with another reject code
    subnet = issuer()
    answer = {"status": "rejected", "reject_code": 4, "reject_message": "no", "error_code": "IC1"}
    answer["signatures"] = subnet.sign_query(answer, b"\x01" * 32, Mischief())
    check(answer, subnet)
    # when / then
    with pytest.raises(IcpSignatureInvalid, match="does not verify"):
        check({**answer, "reject_code": 5}, subnet)


@pytest.mark.parametrize(
    ("kind", "match"),
    [("missing", "no node signature"), ("invalid", "does not verify"), ("unknown_node", "not in")],
)
def test_query_signature_missing_invalid_or_by_a_stranger_is_refused(kind, match):
    # given
    subnet = issuer()
    answer = signed_answer(subnet, Mischief(query_signatures=kind))
    # when / then
    with pytest.raises(IcpSignatureInvalid, match=match):
        check(answer, subnet)


def test_query_signature_over_another_reply_or_request_is_refused():
    # given
    subnet = issuer()
    answer = signed_answer(subnet)
    # when / then
    with pytest.raises(IcpSignatureInvalid):
        check({**answer, "reply": {"arg": b"DIDL\x00\x01}\x2b"}}, subnet)
    with pytest.raises(IcpSignatureInvalid):
        check(answer, subnet, request_id=b"\x02" * 32)


def test_query_signature_stale_timestamp_is_refused():
    # given
    subnet = issuer()
    answer = signed_answer(subnet, Mischief(clock_offset_seconds=-(MAX_AGE + 30)))
    # when / then
    with pytest.raises(IcpCertificateStale):
        check(answer, subnet)


def test_query_more_signatures_than_nodes_is_refused():
    # given
    subnet = issuer()
    answer = signed_answer(subnet)
    answer["signatures"] = answer["signatures"] * (len(subnet.nodes) + 1)
    # when / then
    with pytest.raises(IcpSignatureInvalid, match="signatures for"):
        check(answer, subnet)


def test_certified_node_keys_are_read_from_the_subnet_tree():
    # given a delegated subnet's /subnet answer
    subnet = issuer(delegated=True)
    data = subnet.certificate({b"subnet": subnet.subnet_tree()}, Mischief())
    # when
    keys = verify(data).node_keys()
    # then
    assert keys == node_keys(subnet)
    assert len(keys) == 4


def test_leb128_time_leaf_round_trip_sanity():
    # given a certificate whose time is exactly 2**63 - 1 ns (the largest the IC uses)
    tree = [2, b"time", [3, uleb128(2**63 - 1)]]
    data = cbor2.dumps(
        {"tree": tree, "signature": ROOT.sign(b"\x0dic-state-root" + tree_digest(tree))}
    )
    # when / then: the signature verifies and only the time is refused
    with pytest.raises(IcpCertificateStale):
        verify(data)
