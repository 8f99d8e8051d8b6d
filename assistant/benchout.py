"""How every benchmark reports: one JSON object on stdout, and the same in a file if asked."""

from __future__ import annotations

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
