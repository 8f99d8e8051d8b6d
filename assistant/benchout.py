"""How every benchmark reports: one JSON object on stdout, and the same in a file if asked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def report(results: dict[str, Any], out: str | Path | None = None, *, indent: int | None = 2) -> None:
    text = json.dumps(results, indent=indent)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
    print(text, flush=True)


def build_missing(root: Path) -> str | None:
    """Why a benchmark that starts the real stack cannot run yet (no model, no index), or None."""
    if not list((root / "models").glob("*.tar.gz")):
        return "no trained model in models/: run `make train`"
    if not (root / "kb_index" / "CURRENT").is_file():
        return "no knowledge-base index: run `make index`"
    return None


Ports = tuple[int, int, int, int]


def ports_arg(text: str) -> Ports:
    """argparse type of ``--ports RASA,ACTIONS,WEB,PUBLIC`` (the benchmarks that start a stack)."""
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(0 < p < 65536 for p in values):
        raise argparse.ArgumentTypeError(f"four ports RASA,ACTIONS,WEB,PUBLIC, got {text!r}")
    return values[0], values[1], values[2], values[3]


def add_ports_argument(parser: argparse.ArgumentParser, default: Ports) -> None:
    parser.add_argument(
        "--ports",
        type=ports_arg,
        default=default,
        help=f"RASA,ACTIONS,WEB,PUBLIC ports (default {','.join(map(str, default))})",
    )


def bench_stack(var: Path, ports: Ports, **settings: Any) -> Any:
    """The stack a benchmark starts: its own ports, its own databases in ``var`` (never one named
    in the environment), fresh secrets, the gateway on this machine only."""
    import os
    import secrets

    from assistant.stack import Stack

    for name in ("ASSISTANT_DB_URL", "ASSISTANT_BACKOFFICE_URL"):
        os.environ.pop(name, None)
    rasa, actions, web, public = ports
    values: dict[str, Any] = {
        "rasa_port": rasa,
        "action_port": actions,
        "web_port": web,
        "public_port": public,
        "public_url": f"http://localhost:{public}",
        "public_host": "127.0.0.1",
        "embed_origins": "",
        "rasa_token": secrets.token_urlsafe(16),
        "api_token": secrets.token_urlsafe(16),
        "identity_secret": secrets.token_urlsafe(32),
        "session_secret": secrets.token_urlsafe(32),
        "var_dir": var,
        "traffic": "test",  # a benchmark's customers never count in the figures
        **settings,
    }
    return Stack(**values)


def ready_or_explain(root: Path) -> bool:
    """True when the model and the index are built; else says what to run, on stderr."""
    import sys

    missing = build_missing(root)
    if missing:
        print(missing, file=sys.stderr)
    return missing is None
