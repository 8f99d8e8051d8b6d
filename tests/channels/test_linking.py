"""Account linking: link tokens, one-time codes, bindings, the chat token each message carries."""

from __future__ import annotations

import pytest

from assistant.channels import linking
from assistant.channels.words import load_words
from assistant.identity import sign, verify

SECRET = "linking-secret"
COMMANDS = dict(load_words().commands)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    clock = Clock()
    s = linking.LinkStore(f"sqlite:///{tmp_path / 'links.db'}", clock=clock)
    s.clock_ = clock  # type: ignore[attr-defined]
    yield s
    s.dispose()


def test_a_link_token_names_its_customer_and_a_chat_token_is_not_one():
    token = linking.sign_link_token(SECRET, "cust-ava", name="Ava", segment="premium")
    assert linking.verify_link_token(SECRET, token) == linking.Link(
        "cust-ava", {"name": "Ava", "segment": "premium"}
    )
    with pytest.raises(linking.LinkError, match="not a link token"):
        linking.verify_link_token(SECRET, sign(SECRET, "cust-ava"))
    with pytest.raises(linking.LinkError):
        linking.verify_link_token("another-secret", token)
    with pytest.raises(linking.LinkError, match="expired"):
        linking.verify_link_token(SECRET, sign(SECRET, "cust-ava", ttl=60, now=1000, link=True))
    with pytest.raises(linking.LinkError, match="short-lived"):
        linking.verify_link_token(SECRET, sign(SECRET, "cust-ava", ttl=7 * 24 * 3600, link=True))


def test_a_code_is_taken_once_and_not_after_it_expires(store):
    who = linking.Link("cust-ben", {"name": "Ben"})
    code = store.issue_code(who)
    assert linking.CODE.fullmatch(code) and len(code) == linking.CODE_LENGTH
    assert store.take_code(code.lower()) == who
    assert store.take_code(code) is None  # single use
    late = store.issue_code(who)
    store.clock_.now += linking.CODE_TTL + 1
    assert store.take_code(late) is None
    assert store.take_code("ABCDEFGHJK") is None


def test_bindings_per_channel_and_sender_and_unlinking(store):
    who = linking.Link("cust-ava", {"name": "Ava"})
    store.bind("telegram", "4242", who)
    assert store.linked("telegram", "4242") == who
    assert store.linked("twilio", "4242") is None and store.linked("telegram", "4243") is None
    assert store.unbind("telegram", "4242") and not store.unbind("telegram", "4242")
    assert store.linked("telegram", "4242") is None


def test_senders_are_never_stored_in_clear(store, tmp_path):
    store.bind("twilio", "whatsapp:+447700900123", linking.Link("cust-ava", {}))
    assert b"447700900123" not in (tmp_path / "links.db").read_bytes()


def test_the_chat_token_is_fresh_short_and_the_actions_read_it():
    token = linking.chat_token(SECRET, linking.Link("cust-ava", {"name": "Ava", "segment": "premium"}))
    identity = verify(SECRET, token)
    assert (identity.customer_id, identity.name, identity.segment) == ("cust-ava", "Ava", "premium")
    with pytest.raises(linking.LinkError):  # a chat token cannot be used as a link token
        linking.verify_link_token(SECRET, token)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start ABCDEFGHJK", ("link", "ABCDEFGHJK")),
        ("LINK abcdefghjk", ("link", "ABCDEFGHJK")),
        ("link 12345", ("link", "")),
        ("unlink", ("unlink", "")),
        ("  Unlink ", ("unlink", "")),
        ("/start", None),
        ("link my card to apple pay", None),
        ("how do I unlink my card", None),
        ("hello", None),
    ],
)
def test_commands(text, expected):
    assert linking.command(text, COMMANDS) == expected
