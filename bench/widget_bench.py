"""The chat widget's weight on a host page: ``make bench-widget`` (``bench/widget_bench.py``) prints JSON.

What a host page downloads for the widget: widget.js, its stylesheet and the socket.io client
(fetched only if the page has none), raw and gzip-compressed. No framework is needed.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

from assistant.benchout import report

STATIC = Path(__file__).resolve().parents[1] / "assistant" / "web" / "static"
FILES = {"widget_js": "widget.js", "widget_css": "widget.css", "socketio_client": "vendor/socket.io.min.js"}


def sizes() -> dict[str, int]:
    out: dict[str, int] = {}
    for key, name in FILES.items():
        data = (STATIC / name).read_bytes()
        out[f"{key}_bytes"] = len(data)
        out[f"{key}_gzip_bytes"] = len(gzip.compress(data, compresslevel=9))
    out["widget_total_bytes"] = sum(out[f"{k}_bytes"] for k in FILES)
    out["widget_total_gzip_bytes"] = sum(out[f"{k}_gzip_bytes"] for k in FILES)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    report(sizes(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
