"""Invitations and the person's own details (services/accounts.py)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from tests.factories import UserFactory
from triage.roles import Role, user_role
from triage.services.accounts import user_invite, user_invite_send, user_profile_update
from triage.services.users import UserEditError

pytestmark = pytest.mark.django_db


def test_an_invited_account_cannot_sign_in_until_its_link_is_used(mailoutbox, settings):
    settings.TRIAGE_PUBLIC_URL = "https://triage.example.com/"
    admin = UserFactory(username="root", first_name="Rui", last_name="Admin", is_superuser=True)
    invitation = user_invite(
        username="nia", email="nia@example.com", first_name="Nia", last_name="", role=Role.MANAGER, by=admin
    )
    user = invitation.user
    assert invitation.sent and not user.has_usable_password() and user_role(user) == Role.MANAGER
    (mail,) = mailoutbox
    assert "Rui Admin made you a Triage account (manager)" in mail.body
    uid, token = re.search(
        r"https://triage\.example\.com/accounts/reset/([^/]+)/([^/]+)/", mail.body
    ).groups()
    assert force_str(urlsafe_base64_decode(uid)) == str(user.pk)
    assert default_token_generator.check_token(user, token)
    user.set_password("harbour-kestrel-93")
    user.save()
    assert not default_token_generator.check_token(user, token)  # spent once a password is set


def test_an_account_without_email_is_not_sent_anything(mailoutbox):
    result = user_invite_send(user=UserFactory(username="mute", email=""), by=UserFactory(username="a"))
    assert not result.sent and "no email" in result.error and not mailoutbox


def test_invitations_and_profiles_refuse_an_email_in_use():
    UserFactory(username="first", email="same@example.com")
    with pytest.raises(UserEditError):
        user_invite(
            username="second",
            email="SAME@example.com",
            first_name="",
            last_name="",
            role=Role.AGENT,
            by=UserFactory(username="root2"),
        )
    me = UserFactory(username="me2")
    with pytest.raises(UserEditError):
        user_profile_update(user_id=me.pk, first_name="", last_name="", email="same@example.com")
    kept = user_profile_update(user_id=me.pk, first_name="Me", last_name="Two", email=me.email)
    assert kept.get_full_name() == "Me Two"
