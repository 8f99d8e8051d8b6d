"""The gateway: nginx (Debian's package) in front of everything, so customers see one origin.

:func:`render` fills ``nginx.conf`` (next to this file) with the stack's ports and folders and
:func:`command` runs nginx in the foreground on it, as one of the stack's processes. Only the
public port is opened to the world; the web app, Rasa and the action server listen on internal
addresses. ``make gateway`` installs nginx when it is missing.
"""

from __future__ import annotations

import getpass
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf")
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
MIME_TYPES = Path("/etc/nginx/mime.types")
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")  # only braced capitals: nginx's own $variables stay


class GatewayError(RuntimeError):
    pass


@dataclass(frozen=True)
class GatewaySettings:
    listen: str  # "0.0.0.0:8080", or "127.0.0.1:8080" to keep it on this machine
    web_address: str  # the web app's internal address, "127.0.0.1:8081"
    rasa_addresses: tuple[str, ...]  # Rasa's internal addresses (one per process), for /socket.io/ only
    state_dir: Path  # var/gateway: the rendered config, pid, temp files, logs
    max_body: str = "64k"  # the largest request body; the web app's JSON is far smaller
    max_connections_per_address: int = 200
    # Several action servers: Rasa calls them through an internal listener of the gateway
    # (actions_listen, on this machine only), shared out in turn; one that is down or refuses
    # is skipped, so a Rasa instance is never tied to one action server.
    action_addresses: tuple[str, ...] = ()
    actions_listen: str = ""

    def __post_init__(self) -> None:
        if not self.rasa_addresses:
            raise GatewayError("rasa_addresses must name at least one Rasa process")
        named = [("listen", self.listen), ("web_address", self.web_address)]
        if self.action_addresses:
            if not self.actions_listen:
                raise GatewayError("actions_listen is needed with action_addresses")
            named.append(("actions_listen", self.actions_listen))
            if not self.actions_listen.startswith("127.0.0.1:"):
                raise GatewayError("actions_listen must be on 127.0.0.1: the action servers stay internal")
        named += [("action_addresses", a) for a in self.action_addresses]
        for name, address in [*named, *(("rasa_addresses", a) for a in self.rasa_addresses)]:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise GatewayError(f"{name} must be host:port, got {address!r}")
        if self.max_connections_per_address < 1:
            raise GatewayError("max_connections_per_address must be at least 1")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise GatewayError("nginx is not installed: run `make gateway` (Debian's nginx package)")
    return found


def render(settings: GatewaySettings) -> Path:
    """Write the config into ``state_dir`` and return its path."""
    state = settings.state_dir
    for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    values = dict(
        USER=getpass.getuser(),
        STATE=str(state),
        MIME_TYPES=str(MIME_TYPES),
        MAX_BODY=settings.max_body,
        MAX_CONNECTIONS_PER_ADDRESS=str(settings.max_connections_per_address),
        WEB_ADDRESS=settings.web_address,
        RASA_SERVERS="\n        ".join(f"server {a};" for a in settings.rasa_addresses),
        RASA_WEBHOOK_SERVERS="\n        ".join(
            f"server {a}{'' if i == 0 else ' backup'};" for i, a in enumerate(settings.rasa_addresses)
        ),
        LISTEN=settings.listen,
        STATIC=str(STATIC),
        ACTIONS=_actions_block(settings),
    )
    text = PLACEHOLDER.sub(lambda m: values[m.group(1)], TEMPLATE.read_text(encoding="utf-8"))
    config = state / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


ACTIONS_BLOCK = """
    # Internal only: Rasa's calls to the action servers, shared out in turn. A server that
    # refuses the connection or fails is skipped for the next (an action call that never
    # reached a server is safe to send again); one that stalls past the timeout is not retried.
    upstream actions {
        %(servers)s
        keepalive 16;
    }
    server {
        listen %(listen)s;
        access_log off;
        # Rasa sends the whole session's tracker and the domain with every call: far more than
        # the public door's limit, and only from this machine's Rasa instances.
        client_max_body_size 16m;
        client_body_buffer_size 1m;
        proxy_http_version 1.1;
        location = /webhook {
            proxy_pass http://actions;
            proxy_set_header Connection "";
            proxy_next_upstream error http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }
        location / {
            return 404;
        }
    }
"""


def _actions_block(settings: GatewaySettings) -> str:
    if not settings.action_addresses:
        return ""
    servers = "\n        ".join(f"server {a} max_fails=1 fail_timeout=5s;" for a in settings.action_addresses)
    return ACTIONS_BLOCK % {"servers": servers, "listen": settings.actions_listen}


def command(config: Path) -> list[str]:
    return [
        nginx_binary(),
        "-c",
        str(config),
        "-p",
        str(config.parent),
        "-e",
        str(config.parent / "error.log"),
    ]


def check(config: Path) -> None:
    """``nginx -t`` on the rendered config: a clear error before anything starts."""
    import subprocess

    result = subprocess.run([*command(config), "-t", "-q"], capture_output=True, text=True)
    if result.returncode != 0:
        raise GatewayError(f"the gateway's configuration is not valid:\n{result.stderr.strip()}")
