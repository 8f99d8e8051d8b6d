"""Channels switched on by their environment variables; the file written holds no secret."""

from __future__ import annotations

import pytest
import yaml

from assistant.channels import config
from assistant.stack import Stack
from tests.conftest import ROOT

FULL = {
    "TELEGRAM_BOT_TOKEN": "123456:secret-telegram",
    "TELEGRAM_BOT_NAME": "kestrel_bot",
    "TELEGRAM_WEBHOOK_SECRET": "secret-hook",
    "TWILIO_ACCOUNT_SID": "AC0123",
    "TWILIO_AUTH_TOKEN": "secret-twilio",
    "TWILIO_WHATSAPP_NUMBER": "+14155238886",
    "SLACK_BOT_TOKEN": "xoxb-secret",
    "SLACK_SIGNING_SECRET": "secret-signing",
    "FACEBOOK_VERIFY_TOKEN": "secret-verify",
    "FACEBOOK_APP_SECRET": "secret-app",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "secret-page",
}


def test_no_variables_no_channels():
    assert config.credentials_yaml({}) == ""
    assert config.enabled({"TELEGRAM_API_URL": "http://127.0.0.1:1"}) == []  # an override alone


def test_each_channel_whose_variables_are_set_gets_its_section_and_no_secret():
    text = config.credentials_yaml(FULL)
    for value in FULL.values():
        if "secret" in value:
            assert value not in text
    base = (ROOT / "credentials.yml").read_text()
    sections = yaml.safe_load(base + text)  # the anchors of credentials.yml resolve
    names = [spec.cls for spec in config.CHANNELS]
    assert [k for k in sections if k in names] == names
    for name in names:
        assert sections[name]["limits"] == sections["rasa_addons.channels.GuardedSocketIOInput"]["limits"]
        assert sections[name]["texts"]["busy"]


def test_only_telegram():
    only = {k: v for k, v in FULL.items() if k.startswith("TELEGRAM")}
    assert [s.name for s in config.enabled(only)] == ["telegram"]


@pytest.mark.parametrize("dropped", ["TELEGRAM_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN", "SLACK_SIGNING_SECRET"])
def test_a_half_configured_channel_names_what_is_missing(dropped):
    environ = {k: v for k, v in FULL.items() if k != dropped}
    with pytest.raises(config.ChannelConfigError, match=dropped):
        config.credentials_yaml(environ)


def test_the_stack_writes_its_own_credentials_file(tmp_path, monkeypatch):
    for key, value in FULL.items():
        monkeypatch.setenv(key, value)
    stack = Stack(rasa_token="r", api_token="a", var_dir=tmp_path)
    path = stack.credentials_file()
    assert path == tmp_path / "credentials.yml"
    assert "rasa_addons.messaging.SlackChannel:" in path.read_text()
    rasa = next(s for s in stack._services() if s.name == "rasa")
    assert rasa.command[rasa.command.index("--credentials") + 1] == str(path)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    with pytest.raises(config.ChannelConfigError, match="SLACK_SIGNING_SECRET"):
        stack.credentials_file()
