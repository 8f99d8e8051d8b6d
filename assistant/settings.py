"""One place that reads the environment. Everything else receives settings as arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from exc


def parse_origins(text: str) -> tuple[str, ...]:
    """``ASSISTANT_EMBED_ORIGINS``: origins separated by commas or spaces, without a trailing
    slash, each once (the web app and Rasa's socket.io channel read it the same way)."""
    return tuple(dict.fromkeys(o.rstrip("/") for o in text.replace(",", " ").split()))


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Build with :meth:`from_env`; tests build them directly."""

    project_root: Path = field(default_factory=lambda: Path.cwd())
    kb_source: Path = Path("data/kb")
    kb_index: Path = Path("kb_index")
    content_path: Path = Path("data/assistant.yml")
    out_of_scope_path: Path = Path("data/calibration/out_of_scope.txt")
    vocabulary_path: Path = Path("data/vocabulary.yml")
    kb_tests_path: Path = Path("data/kb_tests.yml")  # the knowledge-base regression tests
    database_url: str = "sqlite:///var/assistant.db"
    rasa_url: str = "http://localhost:5005"
    rasa_public_url: str = "http://localhost:8080"  # where browsers reach socket.io: the gateway
    rasa_token: str = ""
    api_token: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    action_port: int = 5055
    torch_threads: int = 1
    watch_articles: bool = True
    max_message_chars: int = 1000
    data_dir: Path = Path("data")
    backoffice_url: str = "sqlite:///var/backoffice.db"
    identity_secret: str = ""
    session_secret: str = ""  # signs each conversation's credential (assistant.chat_session)
    public_url: str = "http://localhost:8080"  # where customers reach the assistant (the gateway)
    embed_origins: tuple[str, ...] = ()  # other sites allowed to embed the widget (CORS)
    handoff_spool: Path | None = None  # requests for a person kept in an outage (var/handoff-spool.jsonl)
    trusted_proxies: int = 0  # 1 behind the gateway: the client's address is in X-Forwarded-For
    demo_sign_in: bool = False
    redact_personal_data: bool = False
    # Analytics: the event broker's database (Rasa's SQL broker), the analytics store (the main
    # database unless set), and whether this deployment's traffic is "live" or "test".
    broker_url: str = ""
    insights_url: str = ""
    traffic: str = "live"

    @property
    def analytics_url(self) -> str:
        """Where the analytics store lives: ASSISTANT_INSIGHTS_URL, else the main database."""
        return self.insights_url or self.database_url

    @property
    def trees_dir(self) -> Path:
        return self.data_dir / "troubleshooting"

    @property
    def forms_path(self) -> Path:
        return self.data_dir / "forms.yml"

    @property
    def account_path(self) -> Path:
        return self.data_dir / "account.yml"

    @property
    def typed_answers_path(self) -> Path:
        return self.data_dir / "typed_answers.yml"

    @property
    def products_path(self) -> Path:
        return self.data_dir / "products.yml"

    @property
    def cases_path(self) -> Path:
        return self.data_dir / "cases.yml"

    @classmethod
    def from_env(cls, root: Path | None = None) -> Settings:
        root = root or _env_path("ASSISTANT_ROOT", Path.cwd())
        var = root / "var"
        return cls(
            project_root=root,
            kb_source=_env_path("ASSISTANT_KB_SOURCE", root / "data" / "kb"),
            kb_index=_env_path("ASSISTANT_KB_INDEX", root / "kb_index"),
            content_path=_env_path("ASSISTANT_CONTENT", root / "data" / "assistant.yml"),
            out_of_scope_path=_env_path(
                "ASSISTANT_OUT_OF_SCOPE", root / "data" / "calibration" / "out_of_scope.txt"
            ),
            vocabulary_path=_env_path("ASSISTANT_VOCABULARY", root / "data" / "vocabulary.yml"),
            kb_tests_path=_env_path("ASSISTANT_KB_TESTS", root / "data" / "kb_tests.yml"),
            database_url=os.environ.get("ASSISTANT_DB_URL", f"sqlite:///{var / 'assistant.db'}"),
            rasa_url=os.environ.get("RASA_URL", "http://localhost:5005"),
            rasa_public_url=os.environ.get("RASA_PUBLIC_URL", "http://localhost:8080"),
            rasa_token=os.environ.get("RASA_AUTH_TOKEN", ""),
            api_token=os.environ.get("ASSISTANT_API_TOKEN", ""),
            web_host=os.environ.get("ASSISTANT_WEB_HOST", "127.0.0.1"),
            web_port=_env_int("ASSISTANT_WEB_PORT", 8080),
            action_port=_env_int("ASSISTANT_ACTION_PORT", 5055),
            torch_threads=_env_int("ASSISTANT_TORCH_THREADS", 1),
            watch_articles=os.environ.get("ASSISTANT_WATCH_ARTICLES", "1") not in ("0", "false", "no"),
            max_message_chars=_env_int("ASSISTANT_MAX_MESSAGE_CHARS", 1000),
            data_dir=_env_path("ASSISTANT_DATA", root / "data"),
            backoffice_url=os.environ.get("ASSISTANT_BACKOFFICE_URL", f"sqlite:///{var / 'backoffice.db'}"),
            identity_secret=os.environ.get("ASSISTANT_IDENTITY_SECRET", ""),
            session_secret=os.environ.get("ASSISTANT_SESSION_SECRET", ""),
            handoff_spool=_env_path("ASSISTANT_HANDOFF_SPOOL", var / "handoff-spool.jsonl"),
            trusted_proxies=_env_int("ASSISTANT_TRUSTED_PROXIES", 0),
            public_url=os.environ.get("ASSISTANT_PUBLIC_URL", "http://localhost:8080").rstrip("/"),
            embed_origins=parse_origins(os.environ.get("ASSISTANT_EMBED_ORIGINS", "")),
            demo_sign_in=os.environ.get("ASSISTANT_DEMO_SIGN_IN", "0") in ("1", "true", "yes"),
            redact_personal_data=os.environ.get("ASSISTANT_REDACT", "0") in ("1", "true", "yes"),
            broker_url=os.environ.get("ASSISTANT_BROKER_URL", f"sqlite:///{var / 'rasa-events.db'}"),
            insights_url=os.environ.get("ASSISTANT_INSIGHTS_URL", ""),
            traffic="test" if os.environ.get("ASSISTANT_TRAFFIC") == "test" else "live",
        )
