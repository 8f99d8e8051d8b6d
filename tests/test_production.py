"""The production profile's settings and what the stack writes from them (no service needed)."""

from __future__ import annotations

import pytest

from assistant import gateway, production
from assistant.stack import Stack

ENV = {
    "ASSISTANT_POSTGRES_URL": "postgresql://app:s3cret@db.internal:5433",
    "ASSISTANT_RABBITMQ_URL": "amqp://kestrel:mq-pass@mq.internal:5672/prod",
    "ASSISTANT_REDIS_URL": "redis://cache.internal:6380/2",
}


def test_defaults_fit_the_local_services() -> None:
    settings = production.settings({})
    assert settings["db_url"] == "postgresql+psycopg://postgres@127.0.0.1:5432/kestrel"
    assert settings["tracker_url"] == "postgresql://postgres@127.0.0.1:5432/kestrel_tracker"
    assert settings["backoffice_url"].endswith("/kestrel_bank")
    assert settings["redis_url"] == "redis://127.0.0.1:6379/0"
    assert settings["rabbitmq_url"].startswith("amqp://guest@127.0.0.1:5672")
    assert (settings["rasa_processes"], settings["action_processes"]) == (2, 2)


def test_a_whole_database_url_wins_over_the_server() -> None:
    settings = production.settings({**ENV, "ASSISTANT_TRACKER_URL": "postgresql://rasa@other:5432/conv"})
    assert settings["tracker_url"] == "postgresql://rasa@other:5432/conv"
    assert settings["db_url"] == "postgresql+psycopg://app:s3cret@db.internal:5433/kestrel"


@pytest.mark.parametrize(
    ("name", "value"),
    [("ASSISTANT_POSTGRES_URL", "mysql://x@y/z"), ("ASSISTANT_RASA_PROCESSES", "two")],
)
def test_bad_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        production.settings({name: value})


def test_endpoints_name_the_services_and_keep_passwords_in_the_environment(tmp_path) -> None:
    stack = Stack(var_dir=tmp_path, rasa_token="r", api_token="a", **production.settings(ENV))
    services = {s.name: s for s in stack._services()}
    assert set(services) == {"actions", "actions-2", "rasa", "rasa-2", "web", "gateway"}
    endpoints = (tmp_path / "endpoints.yml").read_text()
    assert 'url: "http://127.0.0.1:5054/webhook"' in endpoints  # the gateway's internal listener
    assert 'dialect: "postgresql"' in endpoints and 'url: "db.internal"' in endpoints
    assert "port: 5433" in endpoints and 'db: "kestrel_tracker"' in endpoints
    assert "type: pika" in endpoints and 'url: "amqp://mq.internal:5672/prod"' in endpoints
    assert "queues: [kestrel_insights]" in endpoints and 'url: "cache.internal"' in endpoints
    assert "s3cret" not in endpoints and "mq-pass" not in endpoints
    assert services["rasa-2"].env["ASSISTANT_TRACKER_PASSWORD"] == "s3cret"
    assert services["rasa"].env["ASSISTANT_RABBITMQ_PASSWORD"] == "mq-pass"
    assert (
        services["web"].env["ASSISTANT_BROKER_URL"]
        == "amqp://kestrel@mq.internal:5672/prod?queue=kestrel_insights"
    )
    assert "mq-pass" not in services["web"].env["ASSISTANT_BROKER_URL"]
    # one action server watches the articles and publishes; the other follows the published build
    assert services["actions"].env["ASSISTANT_WATCH_ARTICLES"] == "1"
    assert services["actions-2"].env["ASSISTANT_WATCH_ARTICLES"] == "0"
    assert services["actions-2"].env["ASSISTANT_ACTION_PORT"] == "5056"
    conf = (tmp_path / "gateway" / "nginx.conf").read_text()
    assert "upstream actions" in conf and "server 127.0.0.1:5056" in conf and "listen 127.0.0.1:5054" in conf
    actions = conf[conf.index("listen 127.0.0.1:5054") :]
    assert "client_max_body_size 16m;" in actions.split("location")[0]  # a long tracker is no 413
    assert "s3cret" not in stack.describe_stores() and "mq-pass" not in stack.describe_stores()


def test_the_embedded_profile_keeps_one_action_server_and_no_internal_listener(tmp_path) -> None:
    stack = Stack(var_dir=tmp_path, rasa_token="r", api_token="a", db_url="", tracker_url="", rabbitmq_url="")
    stack._services()
    endpoints = (tmp_path / "endpoints.yml").read_text()
    assert 'url: "http://127.0.0.1:5055/webhook"' in endpoints and 'dialect: "sqlite"' in endpoints
    assert "upstream actions" not in (tmp_path / "gateway" / "nginx.conf").read_text()


def test_the_action_listener_must_stay_on_this_machine(tmp_path) -> None:
    with pytest.raises(gateway.GatewayError, match=r"127\.0\.0\.1"):
        gateway.GatewaySettings(
            listen="0.0.0.0:8080",
            web_address="127.0.0.1:8081",
            rasa_addresses=("127.0.0.1:5005",),
            state_dir=tmp_path,
            action_addresses=("127.0.0.1:5055", "127.0.0.1:5056"),
            actions_listen="0.0.0.0:5054",
        )


def test_a_tracker_url_that_is_not_postgres_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="ASSISTANT_TRACKER_URL"):
        Stack(var_dir=tmp_path, tracker_url="mysql://x@y/z")


def test_a_rabbitmq_password_rasa_cannot_use_is_refused_at_start(tmp_path) -> None:
    with pytest.raises(ValueError, match="RabbitMQ password"):
        Stack(var_dir=tmp_path, rabbitmq_url="amqp://kestrel:pa%2Fss@mq:5672/")


def test_the_tracker_urls_options_reach_rasa(tmp_path) -> None:
    stack = Stack(
        var_dir=tmp_path, rasa_token="r", api_token="a",
        tracker_url="postgresql://rasa@db:5432/conv?sslmode=verify-full", rabbitmq_url="",
    )  # fmt: skip
    assert '  query:\n    sslmode: "verify-full"' in stack.tracker_store_config()


def test_a_bad_server_url_is_named_without_its_password() -> None:
    with pytest.raises(ValueError) as caught:
        production.settings({"ASSISTANT_POSTGRES_URL": "postgress://app:s3cret@db:5432"})
    assert "s3cret" not in str(caught.value)
