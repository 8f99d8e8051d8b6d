"""Signed customer tokens: verified, never forged, expired ones refused."""

from __future__ import annotations

import pytest

from assistant.identity import IdentityError, identity_from_events, sign, verify

SECRET = "test-secret"


def test_round_trip_with_claims() -> None:
    token = sign(SECRET, "cust-ava", name="Ava Patel", segment="premium", novice=True)
    who = verify(SECRET, token)
    assert (who.customer_id, who.name, who.segment, who.novice) == ("cust-ava", "Ava Patel", "premium", True)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: sign("another-secret", "cust-ava"),  # signed by someone else
        lambda t: t.replace(t.split(".")[1], sign(SECRET, "cust-ben").split(".")[1]),  # body swapped
        lambda t: "garbage",
    ],
)
def test_forgeries_are_refused(mangle) -> None:
    with pytest.raises(IdentityError):
        verify(SECRET, mangle(sign(SECRET, "cust-ava")))


def test_expired_token_is_refused() -> None:
    token = sign(SECRET, "cust-ava", ttl=10, now=1000)
    assert verify(SECRET, token, now=1005).customer_id == "cust-ava"
    with pytest.raises(IdentityError, match="expired"):
        verify(SECRET, token, now=1011)


def test_identity_comes_from_the_current_message() -> None:
    events = [
        {"event": "user", "metadata": {"customer_token": sign(SECRET, "cust-ava")}},
        {"event": "bot"},
        {"event": "user", "metadata": {"customer_token": "forged.token.value"}},
    ]
    assert identity_from_events(SECRET, events) is None  # the newest one is forged: nobody
    assert identity_from_events(SECRET, events[:2]).customer_id == "cust-ava"
    assert identity_from_events(SECRET, [{"event": "user", "metadata": {}}]) is None


def user(token: str | None) -> dict:
    return {"event": "user", "metadata": {"customer_token": token} if token else {}}


def test_only_the_current_message_speaks_for_a_customer() -> None:
    """A shared computer: the next person's message carries no token and inherits nothing."""
    events = [user(sign(SECRET, "cust-ava")), {"event": "bot"}, user(None)]
    assert identity_from_events(SECRET, events) is None
    assert identity_from_events(SECRET, [*events, user(sign(SECRET, "cust-ava"))]).customer_id == "cust-ava"


def test_the_first_verified_customer_owns_the_conversation() -> None:
    from assistant.identity import someone_else_owns

    ava = user(sign(SECRET, "cust-ava", ttl=10, now=1000))  # long expired: still names the owner
    events = [user(None), ava, user(sign(SECRET, "cust-ben"))]
    assert identity_from_events(SECRET, events) is None
    assert someone_else_owns(SECRET, events)
    assert not someone_else_owns(SECRET, [ava, user(sign(SECRET, "cust-ava"))])
    assert identity_from_events(SECRET, [ava, user(sign(SECRET, "cust-ava"))]).customer_id == "cust-ava"
    forged_first = [user(sign("other-secret", "cust-ben")), user(sign(SECRET, "cust-ava"))]
    assert identity_from_events(SECRET, forged_first).customer_id == "cust-ava"  # forgeries own nothing


def test_tokens_carry_an_audience_and_issue_time() -> None:
    import base64
    import json

    body = sign(SECRET, "cust-ava", now=1000).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert (claims["aud"], claims["iat"]) == ("kestrel-assistant", 1000)
    other = sign(SECRET, "cust-ava", aud="another-app")
    with pytest.raises(IdentityError, match="audience"):
        verify(SECRET, other)
