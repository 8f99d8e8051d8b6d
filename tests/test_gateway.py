"""The gateway's configuration, rendered and checked by nginx itself (``nginx -t``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant import gateway
from assistant.stack import Stack


def settings(tmp_path: Path, **changes: object) -> gateway.GatewaySettings:
    values: dict[str, object] = {
        "listen": "127.0.0.1:18999",
        "web_address": "127.0.0.1:18998",
        "rasa_addresses": ("127.0.0.1:18997",),
        "state_dir": tmp_path / "gateway",
        **changes,
    }
    return gateway.GatewaySettings(**values)  # type: ignore[arg-type]


def test_the_rendered_configuration_is_valid_for_nginx(tmp_path):
    config = gateway.render(settings(tmp_path))
    gateway.check(config)  # raises with nginx's own message when invalid
    text = config.read_text()
    assert "${" not in text
    # Only socket.io goes to Rasa; everything else to the web app or the widget's files.
    locations = re.findall(r"location (\S+) \{(.*?)\n        \}", text, re.S)
    to_rasa = [path for path, body in locations if "rasa_socketio" in body]
    assert to_rasa == ["/socket.io/"]
    assert "server 127.0.0.1:18997;" in text and "listen 127.0.0.1:18999;" in text
    # The customer's address is set by the gateway, never passed on from the client.
    for path, body in locations:  # in every proxied location: nginx does not inherit them there
        if "proxy_pass" in body:
            for header in ("Host $http_host", "X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme"):
                assert f"proxy_set_header {header};" in body, (path, header)
    assert "client_max_body_size 64k;" in text


def test_a_broken_configuration_is_reported_before_anything_starts(tmp_path):
    config = gateway.render(settings(tmp_path))
    config.write_text(config.read_text().replace("worker_processes 1;", "worker_processes one;"))
    with pytest.raises(gateway.GatewayError, match="not valid"):
        gateway.check(config)


@pytest.mark.parametrize(
    "changes",
    [
        {"listen": "8080"},
        {"web_address": "127.0.0.1:0"},
        {"rasa_addresses": ("host:http",)},
        {"rasa_addresses": ()},
        {"max_connections_per_address": 0},
    ],
)
def test_bad_settings_are_refused(tmp_path, changes):
    with pytest.raises(gateway.GatewayError):
        settings(tmp_path, **changes)


def test_the_stack_puts_everything_behind_one_public_port(tmp_path):
    stack = Stack(rasa_token="r", api_token="a", var_dir=tmp_path, public_port=18080, web_port=18081)
    services = {s.name: s for s in stack._services()}
    assert set(services) == {"actions", "rasa", "web", "gateway"}
    rasa = services["rasa"].command
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"  # Rasa is internal
    web = services["web"].env
    assert web["ASSISTANT_WEB_PORT"] == "18081" and web["RASA_PUBLIC_URL"] == "http://localhost:18080"
    assert web["ASSISTANT_TRUSTED_PROXIES"] == "1"
    assert services["rasa"].env["ASSISTANT_SESSION_SECRET"] == stack.session_secret != ""
    assert stack.urls["chat"] == "http://localhost:18080/"
    assert (tmp_path / "gateway" / "nginx.conf").is_file()


def test_only_the_messaging_webhooks_reach_rasa_besides_socket_io(tmp_path):
    config = gateway.render(settings(tmp_path, rasa_addresses=("127.0.0.1:18997", "127.0.0.1:18996")))
    gateway.check(config)
    text = config.read_text()
    upstream = re.search(r"upstream rasa_webhooks \{(.*?)\}", text, re.S)
    assert upstream is not None
    assert "hash" not in upstream.group(1)
    # one process takes them all, in the order they came; the others only while it is down
    assert "server 127.0.0.1:18997;" in upstream.group(1)
    assert "server 127.0.0.1:18996 backup;" in upstream.group(1)
    locations = re.findall(r"location ([^{]+?) \{(.*?)\n        \}", text, re.S)
    to_webhooks = [(path, body) for path, body in locations if "rasa_webhooks" in body]
    assert [path for path, _ in to_webhooks] == ["~ ^/webhooks/(telegram|twilio|slack|facebook)/webhook$"]
    path_re = re.compile(to_webhooks[0][0].removeprefix("~ "))
    for public in ("telegram", "twilio", "slack", "facebook"):
        assert path_re.search(f"/webhooks/{public}/webhook")
    for internal in ("/webhooks/rest/webhook", "/webhooks/socketio/webhook", "/webhooks/telegram/",
                     "/webhooks/telegram/webhook/x", "/conversations/x/tracker", "/model/parse"):
        assert not path_re.search(internal), internal
    body = to_webhooks[0][1]
    for header in ("Host $http_host", "X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme"):
        assert f"proxy_set_header {header};" in body, header
