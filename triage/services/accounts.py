"""A person's own account details, and invitations: an administrator creates the account with no
password and the person chooses one through an emailed link.

The link is Django's password-reset confirmation (`default_token_generator`): it works once (the
token hashes the password, so setting one spends it) and for PASSWORD_RESET_TIMEOUT seconds
(3 days by default); a resent invitation does not spend an earlier one, setting the password does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from triage.roles import Role, user_role
from triage.services.users import UserEditError, user_create


@dataclass(frozen=True)
class Invitation:
    user: User
    sent: bool
    error: str = ""


def _email_taken(email: str, *, exclude_id: int | None = None) -> bool:
    others = get_user_model().objects.filter(email__iexact=email)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    return others.exists()


@transaction.atomic
def user_profile_update(*, user_id: int, first_name: str, last_name: str, email: str) -> User:
    """Name and email of the signed-in person (the username stays: it is how they sign in)."""
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    email = email.strip()
    if email and _email_taken(email, exclude_id=user.pk):
        raise UserEditError("Another account uses that email address.")
    user.first_name, user.last_name, user.email = first_name.strip(), last_name.strip(), email
    user.save(update_fields=["first_name", "last_name", "email"])
    return user


def invitation_link(*, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return settings.TRIAGE_PUBLIC_URL.rstrip("/") + path


def user_invite_send(*, user: User, by: User) -> Invitation:
    """Email the set-password link. A failure to send is returned, not raised: the account exists
    and the administrator can resend."""
    if not user.email:
        return Invitation(user=user, sent=False, error="The account has no email address.")
    role = user_role(user)
    context = {
        "user": user,
        "inviter": by.get_full_name() or by.get_username(),
        "role": role.label.lower() if role else "no role",
        "link": invitation_link(user=user),
        "login_url": settings.TRIAGE_PUBLIC_URL.rstrip("/") + reverse("login"),
        "timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = render_to_string("triage/email/invite_subject.txt", context).strip()
    body = render_to_string("triage/email/invite_email.txt", context)
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]).send()
    except Exception as exc:  # noqa: BLE001 - SMTP, a provider's API: the page says what failed
        return Invitation(user=user, sent=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return Invitation(user=user, sent=True)


def user_invite(
    *, username: str, email: str, first_name: str, last_name: str, role: Role, by: User
) -> Invitation:
    """Create the account with an unusable password (it cannot sign in until the person chooses
    one) and email the link, once the account is committed."""
    with transaction.atomic():
        if _email_taken(email):
            raise UserEditError("Another account uses that email address.")
        user = user_create(
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            role=role,
            password=None,
        )
    return user_invite_send(user=user, by=by)
