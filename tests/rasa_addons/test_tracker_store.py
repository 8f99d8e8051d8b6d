"""Our SQL tracker store against Rasa's own, with Rasa's Python (.venv-rasa): the same events
stored and published to the broker, without reading the conversation back on every save."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def test_the_same_events_are_stored_and_published_as_by_rasas_store() -> None:
    if not RASA_PYTHON.exists():
        pytest.fail("Rasa's virtualenv is missing: run `make install` (make test does)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "tests" / "rasa_addons" / "tracker_store_check.py")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "same 11 events published and stored" in done.stdout
