"""The ``assistant`` command.

assistant kb build [--source DIR] [--index DIR]
assistant kb search ["QUESTION"] [--json]      (no QUESTION: one question per stdin line)
assistant validate                             (check the article files)
assistant web                                  (the Sanic web app, port 8080)
assistant handoff list | resume ID
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from assistant.settings import Settings


def _encoder(settings: Settings) -> Any:
    from assistant.kb.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(threads=settings.torch_threads)


def _print_problems(exc: Exception) -> None:
    from assistant.kb.articles import ArticleError

    problems = exc.problems if isinstance(exc, ArticleError) else [exc]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)


def cmd_kb_build(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.kb.articles import ArticleError
    from assistant.kb.index import build_from_source, current_build

    source, out = Path(args.source or settings.kb_source), Path(args.index or settings.kb_index)
    try:
        report = build_from_source(source, out, lambda: _encoder(settings), show_progress=sys.stderr.isatty())
    except ArticleError as exc:
        _print_problems(exc)
        live = current_build(out)
        kept = f"the last good index ({live.name}) keeps serving" if live else "no index was built"
        print(f"{len(exc.problems)} problem(s) in {source}; {kept}.", file=sys.stderr)
        return 1
    print(
        json.dumps(report.to_dict())
        if args.json
        else f"built {report.build_id}: {report.articles} articles, {report.passages} passages "
        f"({report.reused_articles} articles reused, {report.encoded_passages} passages encoded) "
        f"in {report.seconds:.1f}s -> {out}"
    )
    return 0


def cmd_kb_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.kb.index import load_index
    from assistant.kb.search import KnowledgeBase

    try:
        index = load_index(Path(args.index or settings.kb_index))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from assistant.content import load_content

    kb = KnowledgeBase(index, _encoder(settings), load_content(settings.content_path).kb)
    questions = [args.question] if args.question is not None else (line.strip() for line in sys.stdin)
    for question in questions:
        if not question:
            continue
        result = kb.search(question, limit=args.limit)
        if args.json:
            print(json.dumps(result.to_dict(detail=args.detail), ensure_ascii=False), flush=True)
        else:
            scores = f"confidence {result.confidence:.2f}, coverage {result.coverage:.2f}"
            print(f"{result.decision} ({scores}): {question}")
            for hit in result.articles:
                print(f"  {hit.score:.3f}  {hit.id}  ({hit.title})")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.content import check_top_tasks, load_content
    from assistant.kb.articles import ArticleError, Problem, load_articles

    source = Path(args.source or settings.kb_source)
    problems: list[Problem] = []
    articles = []
    try:
        articles = load_articles(source)
    except ArticleError as exc:
        problems += exc.problems
    try:
        content = load_content(settings.content_path)
        if articles:
            problems += check_top_tasks(content, {a.id for a in articles}, settings.content_path)
    except ArticleError as exc:
        problems += exc.problems
    if problems:
        _print_problems(ArticleError(problems))
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print(f"ok: {len(articles)} articles in {source}, settings in {settings.content_path}")
    return 0


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.web.server import serve

    serve(settings)
    return 0


def cmd_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.handoff.store import HandoffStore

    store = HandoffStore(settings.database_url)
    if args.handoff_cmd == "list":
        for record in store.list():
            print(json.dumps(record.to_dict(transcript=False)))
        return 0
    import asyncio

    from assistant.rasa_client import RasaClient, RasaError

    found = store.get(args.id)
    if found is None:
        print(f"error: no handoff {args.id}", file=sys.stderr)
        return 1
    record = found
    client = RasaClient(settings.rasa_url, settings.rasa_token)
    try:
        asyncio.run(client.resume(record.conversation_id))
    except RasaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    store.set_status(record.id, "resumed")
    print(f"handoff {record.id}: conversation {record.conversation_id} handed back to the bot")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Customer self-service assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="kb_cmd", required=True)
    build = kb.add_parser("build", help="build or rebuild kb_index/ (re-embeds only changed articles)")
    build.add_argument("--source", help="article folder (default data/kb)")
    build.add_argument("--index", help="index folder (default kb_index)")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.set_defaults(func=cmd_kb_build)
    search = kb.add_parser("search", help="ask the knowledge base")
    search.add_argument("question", nargs="?", help="the question; omit to read one per stdin line")
    search.add_argument("--json", action="store_true", help="one JSON object per question")
    search.add_argument("--limit", type=int, default=5, help="articles to list (default 5)")
    search.add_argument("--detail", action="store_true", help="with --json: confidence, passages, scores")
    search.add_argument("--index", help="index folder (default kb_index)")
    search.set_defaults(func=cmd_kb_search)

    validate = sub.add_parser("validate", help="check the article files, naming file and line")
    validate.add_argument("--source", help="article folder (default data/kb)")
    validate.set_defaults(func=cmd_validate)

    sub.add_parser("web", help="run the web app (chat page, API)").set_defaults(func=cmd_web)

    handoff = sub.add_parser("handoff", help="handoff records")
    hsub = handoff.add_subparsers(dest="handoff_cmd", required=True)
    hsub.add_parser("list", help="list handoffs, newest first")
    resume = hsub.add_parser("resume", help="hand a conversation back to the bot")
    resume.add_argument("id", type=int)
    handoff.set_defaults(func=cmd_handoff)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args, Settings.from_env()))


if __name__ == "__main__":
    sys.exit(main())
