"""Which messaging apps are switched on: each by its environment variables, never by a file.

:func:`credentials_yaml` gives the credentials.yml sections of the channels whose variables are
set, to append to the repository's credentials.yml (the stack writes ``var/credentials.yml``).
The sections hold no secret: the channels read their tokens from the environment themselves.
They reuse the widget's limits and texts through the anchors of credentials.yml (``*limits``,
``*texts``, ``*person_intents``). A channel with only some of its variables set is an error that
names the missing ones, before anything starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ChannelConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ChannelSpec:
    name: str  # Rasa's channel name: its webhook is /webhooks/<name>/webhook
    cls: str  # the class credentials.yml names
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.name}/webhook"


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "telegram",
        "rasa_addons.messaging.TelegramChannel",
        ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_NAME", "TELEGRAM_WEBHOOK_SECRET"),
        ("TELEGRAM_API_URL",),
    ),
    ChannelSpec(
        "twilio",
        "rasa_addons.messaging.WhatsAppChannel",
        ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER"),
        ("TWILIO_API_URL",),
    ),
    ChannelSpec(
        "slack",
        "rasa_addons.messaging.SlackChannel",
        ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
        ("SLACK_API_URL",),
    ),
    ChannelSpec(
        "facebook",
        "rasa_addons.messaging.MessengerChannel",
        ("FACEBOOK_VERIFY_TOKEN", "FACEBOOK_APP_SECRET", "FACEBOOK_PAGE_ACCESS_TOKEN"),
        ("FACEBOOK_API_URL",),
    ),
)
BY_NAME = {spec.name: spec for spec in CHANNELS}


def _set(environ: Mapping[str, str], name: str) -> bool:
    return bool((environ.get(name) or "").strip())


def check(spec: ChannelSpec, environ: Mapping[str, str]) -> bool:
    """Whether ``spec`` is switched on; :class:`ChannelConfigError` when only half of it is."""
    given = [v for v in spec.required if _set(environ, v)]
    if not given:
        return False
    missing = [v for v in spec.required if not _set(environ, v)]
    if missing:
        raise ChannelConfigError(
            f"the {spec.name} channel is half configured: set {', '.join(missing)}"
            f" (or unset {', '.join(given)} to switch it off)"
        )
    for variable in spec.optional:
        value = (environ.get(variable) or "").strip()
        if value and not value.startswith(("http://", "https://")):
            raise ChannelConfigError(f"{variable} must be an http(s) URL")
    return True


def enabled(environ: Mapping[str, str]) -> list[ChannelSpec]:
    """The channels switched on, in a fixed order; every half-configured one is reported at once."""
    problems, on = [], []
    for spec in CHANNELS:
        try:
            if check(spec, environ):
                on.append(spec)
        except ChannelConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ChannelConfigError("; ".join(problems))
    return on


def credentials_yaml(environ: Mapping[str, str]) -> str:
    """credentials.yml sections for the channels switched on ('' when none is)."""
    sections = []
    for spec in enabled(environ):
        sections.append(
            f"# {spec.name}: switched on by {', '.join(spec.required)} (read from the environment)\n"
            f"{spec.cls}:\n"
            "  limits: *limits\n"
            "  texts: *texts\n"
            "  person_intents: *person_intents\n"
        )
    if not sections:
        return ""
    return "\n# Messaging channels (assistant/channels/config.py): no secret here.\n" + "\n".join(sections)
