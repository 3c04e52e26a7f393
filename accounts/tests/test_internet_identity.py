"""Internet Identity sign-in and principal linking (``/api/v1/auth/ii/*``,
``/api/v1/me/icp-principal``), through the real verification code.

Delegations and canister signatures are made by ``testing.internet_identity`` with a test
root key that ``ICP_ROOT_KEY`` names, so every request below runs the chain, canister
signature, certificate and session-signature checks of ``chains.icp``.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, IiNonce, User
from accounts.services import internet_identity
from accounts.services.internet_identity import PROOF_DOMAIN
from accounts.tests.factories import UserFactory
from chains import icp
from testing.icp_certification import BlsKey
from testing.internet_identity import (
    II_CANISTER_ID,
    IiMischief,
    InternetIdentityIssuer,
    SessionKey,
)
from testing.support import race

pytestmark = pytest.mark.django_db

ROOT = BlsKey()  # the test root key of this module; never a production key
SITE = "https://swap.example"  # SITE_URL of the accounts tests
ANCHOR = 10000
NS = 1_000_000_000
OTHER_CANISTER = "qoctq-giaaa-aaaaa-aaaea-cai"


@pytest.fixture(scope="module")
def ii() -> InternetIdentityIssuer:
    return InternetIdentityIssuer(root=ROOT)


@pytest.fixture(autouse=True)
def _ii_settings(settings):
    settings.ICP_ROOT_KEY = ROOT.der.hex()
    settings.II_CANISTER_ID = II_CANISTER_ID


def nonce(api, purpose="sign_in"):
    response = api.post("/api/v1/auth/ii/nonce", {"purpose": purpose}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def proof(api, ii, *, purpose="sign_in", anchor=ANCHOR, session=None, sign=None, **delegate):
    """A nonce from the server and a browser's answer: II's chain and the signed challenge."""
    issued = nonce(api, purpose)
    session = session or SessionKey()
    chain = ii.delegate(session_public_key=session.der, anchor=anchor, origin=SITE, **delegate)
    signed = sign if sign is not None else bytes.fromhex(issued["challenge"])
    return {
        "nonce": issued["nonce"],
        "delegation_chain": chain,
        "signature": session.sign(signed).hex(),
    }


def sign_in(api, body, *, accept_terms=True):
    return api.post("/api/v1/auth/ii/verify", {**body, "accept_terms": accept_terms}, format="json")


def link(api, body):
    return api.post("/api/v1/me/icp-principal", body, format="json")


# --------------------------------------------------------------------------- nonces


def test_ii_nonce_gives_the_challenge_to_sign(api, settings):
    # given
    settings.II_NONCE_TTL_SECONDS = 120
    # when
    body = nonce(api)
    # then
    assert bytes.fromhex(body["challenge"]) == PROOF_DOMAIN + f"{SITE}\n{body['nonce']}".encode()
    stored = IiNonce.objects.get(nonce=body["nonce"])
    assert stored.purpose == "sign_in" and stored.user is None and stored.used_at is None
    assert stored.expires_at - stored.issued_at == timedelta(seconds=120)


def test_ii_link_nonce_needs_a_signed_in_user_and_is_bound_to_them(api):
    # given / when
    anonymous = api.post("/api/v1/auth/ii/nonce", {"purpose": "link"}, format="json")
    user = UserFactory()
    api.force_authenticate(user)
    bound = nonce(api, "link")
    # then
    assert anonymous.status_code == 401
    assert IiNonce.objects.get(nonce=bound["nonce"]).user == user


# --------------------------------------------------------------------------- sign-in


def test_ii_first_sign_in_creates_an_account_with_the_terms_accepted(api, ii, settings):
    # given
    principal = ii.principal(ANCHOR, SITE)
    body = proof(api, ii)
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 200, response.content
    data = response.json()
    user = User.objects.get(icp_principal=principal)
    assert data["user"]["id"] == user.pk and data["user"]["icp_principal"] == principal
    assert data["access"] and data["refresh"]
    assert user.icp_principal_proven_at is not None and not user.has_usable_password()
    assert user.terms_version == settings.TERMS_VERSION and user.terms_accepted_at is not None
    events = dict(AuditEvent.objects.filter(user=user).values_list("event", "detail"))
    assert events["sign_up"] == {"method": "internet_identity", "principal": principal}
    assert events["sign_in"] == {"method": "internet_identity"}
    # the session cookie works, and so does the access token
    assert api.get("/api/v1/me").json()["id"] == user.pk
    api.logout()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {data['access']}")
    assert api.get("/api/v1/me").json()["icp_principal"] == principal


def test_ii_first_sign_in_without_accepting_the_terms_creates_nothing(api, ii):
    # given
    body = proof(api, ii)
    # when
    refused = sign_in(api, body, accept_terms=False)
    # then
    assert refused.status_code == 400 and refused.json()["code"] == "terms_not_accepted"
    assert not User.objects.filter(icp_principal=ii.principal(ANCHOR, SITE)).exists()
    # the proof stays usable once the terms are accepted
    assert sign_in(api, body).status_code == 200


def test_ii_sign_in_of_a_known_principal_returns_its_account(api, ii):
    # given
    first = sign_in(api, proof(api, ii)).json()["user"]["id"]
    api.logout()
    # when: no terms needed any more, another session key
    response = sign_in(api, proof(api, ii), accept_terms=False)
    # then
    assert response.status_code == 200
    assert response.json()["user"]["id"] == first
    assert User.objects.count() == 1


def test_ii_sign_in_takes_a_principal_over_from_an_unproven_claim(api, ii):
    # given: someone typed this principal in before proof was required
    principal = ii.principal(ANCHOR, SITE)
    claimer = UserFactory(icp_principal=principal)
    # when
    response = sign_in(api, proof(api, ii))
    # then: the prover gets a new account; the claim is gone
    assert response.status_code == 200
    owner = User.objects.get(icp_principal=principal)
    assert owner.pk != claimer.pk and owner.pk == response.json()["user"]["id"]
    claimer.refresh_from_db()
    assert claimer.icp_principal == ""
    signup = AuditEvent.objects.get(user=owner, event="sign_up")
    assert signup.detail["claims_removed_from"] == [claimer.pk]


def test_ii_sign_in_of_a_disabled_account_is_refused(api, ii):
    # given
    sign_in(api, proof(api, ii))
    User.objects.filter(icp_principal=ii.principal(ANCHOR, SITE)).update(is_active=False)
    api.logout()
    # when
    response = sign_in(api, proof(api, ii))
    # then
    assert response.status_code == 403 and response.json()["code"] == "account_disabled"


def test_ii_nonce_replayed_is_refused(api, ii):
    # given
    body = proof(api, ii)
    assert sign_in(api, body).status_code == 200
    api.logout()
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "nonce_used"


def test_ii_proof_signing_another_nonce_is_refused(api, ii):
    # given: the session key signed the challenge of an earlier nonce
    earlier = nonce(api)
    body = proof(api, ii, sign=bytes.fromhex(earlier["challenge"]))
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "signature_invalid"
    assert IiNonce.objects.get(nonce=body["nonce"]).used_at is None


def test_ii_unknown_nonce_is_refused(api, ii):
    # given
    body = {**proof(api, ii), "nonce": "0" * 32}
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "nonce_unknown"


def test_ii_expired_nonce_is_refused(api, ii):
    # given
    body = proof(api, ii)
    IiNonce.objects.filter(nonce=body["nonce"]).update(expires_at=timezone.now())
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "nonce_expired"


def test_ii_link_nonce_cannot_sign_in(api, ii):
    # given
    api.force_authenticate(UserFactory())
    body = proof(api, ii, purpose="link")
    api.force_authenticate(None)
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "nonce_mismatch"


@pytest.mark.parametrize(
    ("delegate", "code"),
    [
        ({"mischief": IiMischief(tamper_expiration=True)}, "canister_signature_invalid"),
        ({"expiration_ns": time.time_ns() - NS}, "delegation_expired"),
        ({"mischief": IiMischief(signing_canister=OTHER_CANISTER)}, "not_internet_identity"),
        ({"mischief": IiMischief(certify_canister=OTHER_CANISTER)}, "canister_signature_invalid"),
        ({"mischief": IiMischief(targets=(OTHER_CANISTER,))}, "delegation_targets"),
    ],
    ids=["tampered", "expired", "other-canister", "other-canisters-data", "targets"],
)
def test_ii_bad_proofs_are_refused_and_audited(api, ii, delegate, code):
    # given
    body = proof(api, ii, **delegate)
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == code
    assert User.objects.count() == 0
    failure = AuditEvent.objects.get(event="sign_in_failed")
    assert failure.detail == {"method": "internet_identity", "purpose": "sign_in", "code": code}
    assert IiNonce.objects.get(nonce=body["nonce"]).used_at is None


def test_ii_proof_against_another_root_key_is_refused(api, ii, settings):
    # given: the site trusts another IC root key (say, mainnet's) than the one II signed under
    settings.ICP_ROOT_KEY = BlsKey().der.hex()
    # when
    response = sign_in(api, proof(api, ii))
    # then
    assert response.json()["code"] == "canister_signature_invalid"


def test_ii_canister_id_is_a_setting(api, ii, settings):
    # given: this site accepts another identity canister only
    settings.II_CANISTER_ID = OTHER_CANISTER
    # when
    response = sign_in(api, proof(api, ii))
    # then
    assert response.json()["code"] == "not_internet_identity"


def test_ii_malformed_chain_is_an_input_error(api, ii):
    # given
    body = proof(api, ii)
    body["delegation_chain"]["delegations"][0]["delegation"]["pubkey"] = "not hex"
    # when
    response = sign_in(api, body)
    # then
    assert response.status_code == 400 and response.json()["code"] == "delegation_malformed"


# --------------------------------------------------------------------------- linking


def test_ii_link_sets_a_proven_principal_on_the_signed_in_account(api, ii):
    # given
    user = UserFactory()
    api.force_authenticate(user)
    principal = ii.principal(ANCHOR, SITE)
    # when
    response = link(api, proof(api, ii, purpose="link"))
    # then
    assert response.status_code == 200, response.content
    assert response.json()["icp_principal"] == principal
    assert response.json()["icp_principal_proven_at"] is not None
    user.refresh_from_db()
    assert user.icp_principal == principal and user.icp_principal_proven_at is not None
    linked = AuditEvent.objects.get(user=user, event="icp_linked")
    assert linked.detail == {"method": "internet_identity", "principal": principal}


def test_ii_link_of_a_principal_another_account_proved_is_refused(api, ii):
    # given
    sign_in(api, proof(api, ii))
    api.logout()
    api.force_authenticate(UserFactory())
    # when
    response = link(api, proof(api, ii, purpose="link"))
    # then
    assert response.status_code == 409 and response.json()["code"] == "principal_taken"


def test_ii_link_takes_a_principal_over_from_an_unproven_claim(api, ii):
    # given
    principal = ii.principal(ANCHOR, SITE)
    claimer = UserFactory(icp_principal=principal)
    user = UserFactory()
    api.force_authenticate(user)
    # when
    response = link(api, proof(api, ii, purpose="link"))
    # then
    assert response.status_code == 200
    claimer.refresh_from_db()
    user.refresh_from_db()
    assert (claimer.icp_principal, user.icp_principal) == ("", principal)


def test_ii_link_nonce_of_another_user_is_refused(api, ii):
    # given
    api.force_authenticate(UserFactory())
    body = proof(api, ii, purpose="link")
    api.force_authenticate(UserFactory())
    # when
    response = link(api, body)
    # then
    assert response.status_code == 401 and response.json()["code"] == "nonce_mismatch"


def test_a_typed_principal_is_no_longer_linked_without_proof(api):
    # given
    user = UserFactory()
    api.force_authenticate(user)
    # when
    response = link(api, {"principal": "rrkah-fqaaa-aaaaa-aaaaq-cai"})
    # then
    assert response.status_code == 400 and response.json()["code"] == "proof_required"
    user.refresh_from_db()
    assert user.icp_principal == ""


def test_ii_link_needs_a_signed_in_user(api, ii):
    # when
    response = link(api, {"nonce": "x", "delegation_chain": {}, "signature": ""})
    # then
    assert response.status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ii_same_proof_concurrently_signs_in_only_once(postgres_url, api, ii, monkeypatch):
    # given: two verifies of one proof, both past every check before either consumes
    body = proof(api, ii)
    barrier = threading.Barrier(2, timeout=20)
    original = icp.verify_principal_proof

    def verified_then_wait(**kwargs):
        proven = original(**kwargs)
        barrier.wait()
        return proven

    monkeypatch.setattr(internet_identity.icp, "verify_principal_proof", verified_then_wait)
    # when
    results = race(2, lambda _: services.ii_sign_in(**body, accept_terms=True))
    # then
    users = [r for r in results if isinstance(r, User)]
    assert len(users) == 1, results
    assert "nonce_used" in results
    assert User.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ii_first_sign_ins_of_one_principal_concurrently_make_one_account(postgres_url, api, ii):
    # given: two proofs (two nonces, two session keys) of the same new principal
    bodies = [proof(api, ii), proof(api, ii)]
    # when
    results = race(2, lambda i: services.ii_sign_in(**bodies[i], accept_terms=True))
    # then
    assert all(isinstance(r, User) for r in results), results
    assert results[0].pk == results[1].pk
    assert User.objects.count() == 1


# --------------------------------------------------------------------------- the rest


def test_ii_nonces_purge_removes_only_long_expired_ones():
    # given
    old, _ = services.ii_nonce_issue(purpose="sign_in")
    fresh, _ = services.ii_nonce_issue(purpose="sign_in")
    IiNonce.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=2))
    # when
    from accounts.tasks import purge_ii_nonces

    purge_ii_nonces()
    # then
    assert list(IiNonce.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_deleting_an_account_forgets_when_its_principal_was_proven(api, ii):
    # given
    sign_in(api, proof(api, ii))
    user = User.objects.get()
    # when
    services.user_delete(user=user)
    # then
    user.refresh_from_db()
    assert user.icp_principal == "" and user.icp_principal_proven_at is None


def test_openapi_documents_the_ii_endpoints_and_their_refusals(api):
    # when
    schema = api.get("/api/schema/?format=json").json()
    # then
    verify = schema["paths"]["/api/v1/auth/ii/verify"]["post"]["responses"]
    codes = {e["value"]["code"] for r in verify.values() for e in _examples(r)}
    assert {
        "nonce_used",
        "delegation_expired",
        "canister_signature_invalid",
        "not_internet_identity",
        "delegation_targets",
        "signature_invalid",
        "terms_not_accepted",
    } <= codes
    linked = schema["paths"]["/api/v1/me/icp-principal"]["post"]["responses"]
    codes = {e["value"]["code"] for r in linked.values() for e in _examples(r)}
    assert {"proof_required", "principal_taken", "nonce_mismatch"} <= codes
    assert "/api/v1/auth/ii/nonce" in schema["paths"]


def _examples(response: dict) -> list[dict]:
    content = response.get("content", {}).get("application/json", {})
    return list(content.get("examples", {}).values())


def test_ii_sign_in_switches_to_the_profiles_language(api, ii):
    # given: the principal's account chose Bengali; the browser reads English
    first = sign_in(api, proof(api, ii)).json()["user"]["id"]
    User.objects.filter(pk=first).update(preferred_language="bn")
    api.logout()
    api.cookies["django_language"] = "en"
    # when
    response = sign_in(api, proof(api, ii), accept_terms=False)
    # then
    assert response.status_code == 200
    assert response.cookies["django_language"].value == "bn"
