"""Local development: `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# WebAuthn over plain http://localhost during development (allauth.mfa).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
