"""Internet Identity proofs (``chains.icp.delegation_chain``, ``chains.icp.canister_signature``).

Delegations are made for real by ``testing.internet_identity`` (canister signatures over a
BLS-signed certificate of a test root key, independently written), and one real canister
signature made by an Internet Identity canister on a replica (dfinity/ic's test vector) is
checked too. Each refusal test changes one thing about an otherwise valid proof and
expects one code.
"""

from __future__ import annotations

import hashlib
import time

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chains.icp import (
    IcpIdentityInvalid,
    delegation_chain_from_json,
    verify_principal_proof,
)
from chains.icp.agent import require_principal
from chains.icp.canister_signature import (
    canister_signature_key_from_der,
    verify_canister_signature,
)
from chains.icp.delegation_chain import (
    MAX_CANISTER_SIGNATURE_AGE_SECONDS,
    Delegation,
    verify_basic_signature,
)
from chains.icp.errors import IcpCanisterNotInSubnet, IcpCertificateStale
from testing.icp_certification import BlsKey, Mischief
from testing.internet_identity import (
    II_CANISTER_ID,
    IiMischief,
    InternetIdentityIssuer,
    SessionKey,
    canister_signature_public_key,
    extend_chain,
)

ROOT = BlsKey()  # one test root key for the module; never a production key
ORIGIN = "https://market.example"
ANCHOR = 10000
CHALLENGE = b"\x10p2pswap-ii-proof https://market.example\nnonce"
NS = 1_000_000_000
OTHER_CANISTER = "qoctq-giaaa-aaaaa-aaaea-cai"


@pytest.fixture(scope="module")
def ii():
    return InternetIdentityIssuer(root=ROOT)


def prove(
    chain, key, *, message=CHALLENGE, root_key=ROOT.der, now_ns=None, canister=II_CANISTER_ID
):
    return verify_principal_proof(
        chain=delegation_chain_from_json(chain),
        message=message,
        signature=key.sign(message),
        identity_canister_id=canister,
        root_key=root_key,
        max_skew_seconds=300,
        now_ns=now_ns,
    )


def refused(code, chain, key, **kwargs):
    with pytest.raises(IcpIdentityInvalid) as caught:
        prove(chain, key, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519"])
def test_verify_principal_proof_derives_the_principal_of_the_ii_key(ii, kind):
    # given: II delegates to the browser's session key (ECDSA P-256 is auth-client's default)
    session = SessionKey(kind)
    chain = ii.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    # when
    proven = prove(chain, session)
    # then: the self-authenticating id of II's key for this origin, as the IC derives it
    assert proven.principal == ii.principal(ANCHOR, ORIGIN)
    assert proven.identity_canister_id == II_CANISTER_ID
    assert proven.session_public_key == session.der
    assert proven.expires_at_ns == int(chain["delegations"][0]["delegation"]["expiration"], 16)
    assert abs(proven.signed_at_ns - time.time_ns()) < 60 * NS


def test_each_origin_and_anchor_has_its_own_principal(ii):
    # given / when
    principals = {
        ii.principal(ANCHOR, ORIGIN),
        ii.principal(ANCHOR, "https://other.example"),
        ii.principal(ANCHOR + 1, ORIGIN),
    }
    # then
    assert len(principals) == 3


def test_ii_on_the_root_subnet_without_delegation_verifies():
    # given: II's certificate signed by the root key itself
    issuer = InternetIdentityIssuer(root=ROOT, delegated=False)
    session = SessionKey()
    chain = issuer.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    # when / then
    assert prove(chain, session).principal == issuer.principal(ANCHOR, ORIGIN)


def test_a_chain_extended_by_the_session_key_verifies_each_link(ii):
    # given: II -> key A -> key B (DelegationChain.create with `previous`)
    first, second = SessionKey(), SessionKey("ed25519")
    chain = ii.delegate(session_public_key=first.der, anchor=ANCHOR, origin=ORIGIN)
    expiration = time.time_ns() + 60 * NS
    longer = extend_chain(chain, signer=first, to=second.der, expiration_ns=expiration)
    # when
    proven = prove(longer, second)
    # then
    assert proven.principal == ii.principal(ANCHOR, ORIGIN)
    assert proven.session_public_key == second.der
    assert proven.expires_at_ns == expiration


# A canister signature made by a real Internet Identity (idp_service) canister on a replica,
# with that replica's root key: test vector STABILITY_1 of dfinity/ic
# (rs/crypto/internal/test_vectors/src/iccsa.rs, Apache-2.0). It signs the delegation
# {pubkey: b"MY PUBLIC KEY", expiration: 1650114196974266000} for seed b"10000".
REAL_SIGNATURE = bytes.fromhex(
    "d9d9f7a26b636572746966696361746559018bd9d9f7a2647472656583018301830183024863616e69737465"
    "72830182045820cbd2968ab7b3383f8e1c81e6ec2811b0873f21ea3b7ad5a769eb9030ce02386e83024a0000"
    "00000000000801018301830183024e6365727469666965645f6461746182035820f3e90c5b46e5ed3fca8848"
    "f2e71651d4439a49a252b83b417d0647f3205c077382045820d08aa58b72017dd5e5149ac22e46a786b6524e"
    "c1d8756acf88b9e37c14ef8fe282045820a2a8720abbe0bd650f04a66f7bfadef746b474ef29d41d126bd1ea"
    "233615ad188204582099e59e17dce9a13fefc922d20a90db036f77352788e99d698b3640d4fa887724820458"
    "20452558ea92c951baf2bf35b294005edeb8c3bf94b6af9b6b92839dd268a7ca5a830182045820b4acde406e"
    "f595b7b3c3f16265b9b365bee38294a1b7a59a9d51d6422ab9987983024474696d65820349d8fb9aafea8c96"
    "bb16697369676e61747572655830b159a3d65f082279ff3f515d0fe7e8584302b36bcc9c693878483d4f1d07"
    "b35c691ac5df09bf9643cafb22cabb30076e64747265658302437369678302582039e5b4830d4d9c14db7368"
    "a95b65d5463ea3d09520373723430c03a5a453b5df830258208f7f1d02ee5ff0cd3f3b5dd1d872d004dde7f9"
    "187bc139d207ab091dbd55e274820340"
)
REAL_ROOT_KEY = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100937d967742f4f9"
    "b01b8e26d3c9e53c5a251a83586afc73f054bac1aed60c1b11e7a6677ec0b26085cdc1d39ad4c8dcb502ed14"
    "f54af440d1d829075b1e9f6e72de57ebb2384a615d0b3e2f3a6af4516532de713a2a57457a66b68b0a7d34f8"
    "4e"
)
REAL_DELEGATION = Delegation(pubkey=b"MY PUBLIC KEY", expiration_ns=1_650_114_196_974_266_000)
REAL_SIGNED_AT_NS = 1_618_578_313_979_543_000


def _real_key():
    canister = require_principal("qoctq-giaaa-aaaaa-aaaea-cai", "canister")
    return canister_signature_key_from_der(canister_signature_public_key(canister, b"10000"))


def test_a_real_internet_identity_canister_signature_verifies():
    # given / when: checked as at the time it was made
    signed_at = verify_canister_signature(
        message=REAL_DELEGATION.signable(),
        signature=REAL_SIGNATURE,
        key=_real_key(),
        root_key=REAL_ROOT_KEY,
        max_age_seconds=60,
        max_skew_seconds=60,
        now_ns=REAL_SIGNED_AT_NS + 30 * NS,
    )
    # then
    assert signed_at == REAL_SIGNED_AT_NS


@pytest.mark.parametrize(
    "change",
    ["another delegation", "another seed", "another root key", "a flipped bit", "too old"],
)
def test_the_real_canister_signature_is_refused_once_anything_changes(change):
    # given
    message, key, root, signature = (
        REAL_DELEGATION.signable(),
        _real_key(),
        REAL_ROOT_KEY,
        REAL_SIGNATURE,
    )
    now = REAL_SIGNED_AT_NS + 30 * NS
    if change == "another delegation":
        message = Delegation(b"MY PUBLIC KEY", REAL_DELEGATION.expiration_ns + 1).signable()
    elif change == "another seed":
        key = canister_signature_key_from_der(
            canister_signature_public_key(key.canister_id, b"10001")
        )
    elif change == "another root key":
        root = ROOT.der
    elif change == "a flipped bit":
        at = signature.index(b"certified_data") + 20
        signature = signature[:at] + bytes([signature[at] ^ 1]) + signature[at + 1 :]
    else:
        now = REAL_SIGNED_AT_NS + 120 * NS
    # when / then
    with pytest.raises(IcpIdentityInvalid) as caught:
        verify_canister_signature(
            message=message,
            signature=signature,
            key=key,
            root_key=root,
            max_age_seconds=60,
            max_skew_seconds=60,
            now_ns=now,
        )
    assert caught.value.code == "canister_signature_invalid"


# --------------------------------------------------------------------------- refused


def test_a_tampered_delegation_is_refused(ii):
    # given: the expiration was pushed back after II signed
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(tamper_expiration=True),
    )
    # when / then
    refused("canister_signature_invalid", chain, session)


def test_a_delegation_to_another_session_key_is_refused(ii):
    # given: a stolen chain; the thief signs with their own key
    session, thief = SessionKey(), SessionKey()
    chain = ii.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    # when / then
    refused("session_signature_invalid", chain, thief)


def test_a_signature_of_another_challenge_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    parsed = delegation_chain_from_json(chain)
    # when / then
    with pytest.raises(IcpIdentityInvalid) as caught:
        verify_principal_proof(
            chain=parsed,
            message=CHALLENGE,
            signature=session.sign(CHALLENGE + b"other"),
            identity_canister_id=II_CANISTER_ID,
            root_key=ROOT.der,
            max_skew_seconds=300,
        )
    assert caught.value.code == "session_signature_invalid"


def test_an_expired_delegation_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        expiration_ns=time.time_ns() - NS,
    )
    # when / then
    refused("delegation_expired", chain, session)


def test_an_expired_later_link_is_refused(ii):
    # given
    first, second = SessionKey(), SessionKey()
    chain = ii.delegate(session_public_key=first.der, anchor=ANCHOR, origin=ORIGIN)
    longer = extend_chain(chain, signer=first, to=second.der, expiration_ns=time.time_ns() - NS)
    # when / then
    refused("delegation_expired", longer, second)


def test_a_canister_signature_by_another_canister_is_refused(ii):
    # given: a valid canister signature, but by another canister than Internet Identity
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(signing_canister=OTHER_CANISTER),
    )
    # when: it is a good signature of that canister ...
    assert prove(chain, session, canister=OTHER_CANISTER).identity_canister_id == OTHER_CANISTER
    # then: ... and not Internet Identity's
    refused("not_internet_identity", chain, session)


def test_a_certificate_of_another_canisters_data_is_refused(ii):
    # given: the key names II, the certificate certifies another canister's data
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(certify_canister=OTHER_CANISTER),
    )
    # when / then
    refused("canister_signature_invalid", chain, session)


def test_ii_signing_another_delegation_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(wrong_message=True),
    )
    # when / then
    refused("canister_signature_invalid", chain, session)


def test_a_canister_outside_its_subnets_ranges_is_refused():
    # given: the root delegates a subnet that does not hold the II canister
    issuer = InternetIdentityIssuer(root=ROOT, canister_ranges=[(OTHER_CANISTER, OTHER_CANISTER)])
    session = SessionKey()
    chain = issuer.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    # when / then
    error = refused("canister_signature_invalid", chain, session)
    assert isinstance(error.__cause__, IcpCanisterNotInSubnet)


@pytest.mark.parametrize(
    "mischief",
    [
        Mischief(tamper_leaf=True),
        Mischief(forge_delegation=True),
        Mischief(wrong_subnet_key=True),
        Mischief(nested_delegation=True),
    ],
    ids=["tampered-tree", "forged-subnet-delegation", "wrong-subnet-key", "nested-delegation"],
)
def test_a_bad_certificate_behind_the_canister_signature_is_refused(ii, mischief):
    # given
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(certificate=mischief),
    )
    # when / then
    refused("canister_signature_invalid", chain, session)


def test_a_certificate_of_another_root_key_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    # when / then
    refused("canister_signature_invalid", chain, session, root_key=BlsKey().der)


def test_a_canister_signature_from_the_future_is_refused(ii):
    # given: certified ten minutes ahead of our clock (skew allowed: five)
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(certificate=Mischief(clock_offset_seconds=600)),
    )
    # when / then
    refused("canister_signature_invalid", chain, session)


def test_a_canister_signature_older_than_any_ii_delegation_is_refused(ii):
    # given: a delegation still unexpired, but signed longer ago than II ever delegates
    session = SessionKey()
    age = MAX_CANISTER_SIGNATURE_AGE_SECONDS + 3600
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        expiration_ns=time.time_ns() + 3600 * NS,
        mischief=IiMischief(certificate=Mischief(clock_offset_seconds=-age)),
    )
    # when / then
    error = refused("canister_signature_invalid", chain, session)
    assert "old" in str(error)
    assert not isinstance(error.__cause__, IcpCertificateStale)


def test_a_delegation_restricted_to_canisters_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(
        session_public_key=session.der,
        anchor=ANCHOR,
        origin=ORIGIN,
        mischief=IiMischief(targets=(OTHER_CANISTER,)),
    )
    # when / then
    refused("delegation_targets", chain, session)


def test_a_chain_not_rooted_in_a_canister_signature_is_refused(ii):
    # given: a self-made chain from a plain key (anyone can make one)
    owner, session = SessionKey("ed25519"), SessionKey()
    fake = {"publicKey": owner.der.hex(), "delegations": []}
    chain = extend_chain(fake, signer=owner, to=session.der, expiration_ns=time.time_ns() + NS * 60)
    # when / then
    refused("not_internet_identity", chain, session)


def test_a_later_link_signed_by_the_wrong_key_is_refused(ii):
    # given: key B's delegation signed by a stranger instead of key A
    first, second, stranger = SessionKey(), SessionKey(), SessionKey()
    chain = ii.delegate(session_public_key=first.der, anchor=ANCHOR, origin=ORIGIN)
    longer = extend_chain(
        chain, signer=stranger, to=second.der, expiration_ns=time.time_ns() + 60 * NS
    )
    # when / then
    refused("delegation_signature_invalid", longer, second)


def test_a_key_repeated_in_the_chain_is_refused(ii):
    # given
    first = SessionKey()
    chain = ii.delegate(session_public_key=first.der, anchor=ANCHOR, origin=ORIGIN)
    loop = extend_chain(chain, signer=first, to=first.der, expiration_ns=time.time_ns() + 60 * NS)
    # when / then
    refused("delegation_malformed", loop, first)


def test_a_session_key_of_an_unsupported_kind_is_refused(ii):
    # given: ECDSA on P-384, which the IC does not accept for senders
    key = ec.generate_private_key(ec.SECP384R1())
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    chain = ii.delegate(session_public_key=der, anchor=ANCHOR, origin=ORIGIN)
    parsed = delegation_chain_from_json(chain)
    # when / then
    with pytest.raises(IcpIdentityInvalid) as caught:
        verify_principal_proof(
            chain=parsed,
            message=CHALLENGE,
            signature=b"\x00" * 96,
            identity_canister_id=II_CANISTER_ID,
            root_key=ROOT.der,
            max_skew_seconds=300,
        )
    assert caught.value.code == "delegation_malformed"


@pytest.mark.parametrize(
    "chain",
    [
        None,
        [],
        {"publicKey": "zz", "delegations": []},
        {"publicKey": "30", "delegations": []},
        {"publicKey": "30", "delegations": [{}]},
        {"publicKey": "30", "delegations": [{"delegation": {"pubkey": "30"}, "signature": "00"}]},
        {
            "publicKey": "30",
            "delegations": [
                {"delegation": {"pubkey": "30", "expiration": "-1"}, "signature": "00"}
            ],
        },
        {
            "publicKey": "30",
            "delegations": [
                {"delegation": {"pubkey": "30", "expiration": "1" * 17}, "signature": "00"}
            ],
        },
        {
            "publicKey": "30",
            "delegations": [
                {
                    "delegation": {"pubkey": "30", "expiration": "10", "targets": "x"},
                    "signature": "",
                }
            ],
        },
        {
            "publicKey": "30",
            "delegations": [{"delegation": {"pubkey": "30", "expiration": "10"}, "signature": ""}]
            * 21,
        },
    ],
)
def test_malformed_chains_are_refused_before_any_check(chain):
    # when / then
    with pytest.raises(IcpIdentityInvalid) as caught:
        delegation_chain_from_json(chain)
    assert caught.value.code == "delegation_malformed"


# --------------------------------------------------------------------------- keys


def test_a_canister_signature_key_reads_back_its_canister_and_seed():
    # given
    canister = require_principal(II_CANISTER_ID, "canister")
    seed = hashlib.sha256(b"seed").digest()
    der = canister_signature_public_key(canister, seed)
    # when
    key = canister_signature_key_from_der(der)
    # then
    assert (key.canister_id, key.seed, key.der) == (canister, seed, der)


@pytest.mark.parametrize(
    "change", ["trailing byte", "other OID", "truncated", "empty canister id", "not a key"]
)
def test_a_malformed_canister_signature_key_is_refused(change):
    # given
    der = canister_signature_public_key(require_principal(II_CANISTER_ID, "c"), b"seed")
    if change == "trailing byte":
        der += b"\x00"
    elif change == "other OID":
        der = der.replace(bytes.fromhex("83b8430102"), bytes.fromhex("83b8430103"))
    elif change == "truncated":
        der = der[:-3]
    elif change == "empty canister id":
        der = canister_signature_public_key(b"", b"seed")
    else:
        der = SessionKey().der
    # when / then
    with pytest.raises(ValueError):
        canister_signature_key_from_der(der)


def test_ecdsa_signatures_are_64_bytes_r_and_s_over_sha256():
    # given
    session = SessionKey()
    signature = session.sign(b"message")
    # when / then
    assert len(signature) == 64
    assert verify_basic_signature(session.der, b"message", signature)
    assert not verify_basic_signature(session.der, b"other", signature)
    assert not verify_basic_signature(session.der, b"message", signature[:63])


def test_a_canister_signature_that_is_not_cbor_is_refused(ii):
    # given
    session = SessionKey()
    chain = ii.delegate(session_public_key=session.der, anchor=ANCHOR, origin=ORIGIN)
    chain["delegations"][0]["signature"] = cbor2.dumps({"tree": [0]}).hex()
    # when / then
    refused("canister_signature_invalid", chain, session)
