"""Every write of the accounts app: sign-in (SIWE, JWT), profile, KYC, deletion, audit.

One module per topic; the public services are re-exported here, so callers keep
writing ``from accounts import services`` and ``services.siwe_sign_in(...)``.
"""

from accounts.services.audit import audit_record
from accounts.services.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_accounts_seed
from accounts.services.internet_identity import (
    ii_nonce_issue,
    ii_nonces_purge,
    ii_principal_link,
    ii_sign_in,
)
from accounts.services.kyc import kyc_decide, kyc_submit
from accounts.services.profile import avatar_set, profile_update, user_delete, user_terms_accept
from accounts.services.reputation import reputation_update
from accounts.services.siwe import siwe_link, siwe_nonce_issue, siwe_nonces_purge, siwe_sign_in
from accounts.services.tokens import (
    jwt_end_all,
    jwt_pair_issue,
    jwt_refresh,
    jwt_revoke,
    jwt_revoke_all,
)
from accounts.services.wallets import wallet_default_set, wallet_unlink

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "audit_record",
    "avatar_set",
    "demo_accounts_seed",
    "ii_nonce_issue",
    "ii_nonces_purge",
    "ii_principal_link",
    "ii_sign_in",
    "jwt_end_all",
    "jwt_pair_issue",
    "jwt_refresh",
    "jwt_revoke",
    "jwt_revoke_all",
    "kyc_decide",
    "kyc_submit",
    "profile_update",
    "reputation_update",
    "siwe_link",
    "siwe_nonce_issue",
    "siwe_nonces_purge",
    "siwe_sign_in",
    "user_delete",
    "user_terms_accept",
    "wallet_default_set",
    "wallet_unlink",
]
