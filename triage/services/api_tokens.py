"""Personal API tokens: created on the account page, shown once, kept as a SHA-256 only.

A token reads `tri_<prefix>_<secret>`: the prefix (public, unique) finds the row with one indexed
lookup, the secret (32 random bytes) is compared by hash in constant time. A plain SHA-256, not a
password hash: the secret has 256 bits of entropy, so there is nothing to slow a guesser down for,
and every API request checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from triage.models import ApiToken

TOKEN_PREFIX = "tri_"  # noqa: S105 - the format's marker, not a secret
# last_used_at is written at most this often per token: not one UPDATE per request
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    plaintext: str  # shown to its owner once, never stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, scope: str) -> CreatedToken:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100] or "API token",
        scope=ApiToken.Scope(scope),
        prefix=prefix,
        secret_sha256=_digest(secret),
    )
    return CreatedToken(token=token, plaintext=f"{TOKEN_PREFIX}{prefix}_{secret}")


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or already revoked."""
    return bool(
        ApiToken.objects.filter(id=token_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def api_token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The live token `plaintext` names (with its active user), or None. Stamps last_used_at."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = plaintext[len(TOKEN_PREFIX) :].partition("_")
    if not prefix or not secret or len(prefix) > 16:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.secret_sha256, _digest(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
    return token
