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


def test_identity_comes_from_the_newest_signed_message() -> None:
    events = [
        {"event": "user", "metadata": {"customer_token": sign(SECRET, "cust-ava")}},
        {"event": "bot"},
        {"event": "user", "metadata": {"customer_token": "forged.token.value"}},
    ]
    assert identity_from_events(SECRET, events) is None  # the newest one is forged: nobody
    assert identity_from_events(SECRET, events[:2]).customer_id == "cust-ava"
    assert identity_from_events(SECRET, [{"event": "user", "metadata": {}}]) is None
