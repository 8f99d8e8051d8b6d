"""The ``assistant`` command.

assistant kb build [--source DIR] [--index DIR]
assistant kb search ["QUESTION"] [--json]      (no QUESTION: one question per stdin line)
assistant kb test [--file F]                   (the knowledge-base regression tests, data/kb_tests.yml)
assistant validate                             (check articles, settings, trees, products, cases)
assistant web                                  (the Sanic web app, port 8080)
assistant handoff list [--limit N] | resume ID
assistant token CUSTOMER [--name N --segment S --novice --ttl SECONDS]
assistant backoffice [--reset]                 (demo customers, cards, payees, recent activity)
assistant backoffice fail CUSTOMER KIND AMOUNT REASON [--what W]  (a failed operation, for demos)
assistant trees [TREE]                         (troubleshooting trees as outlines)
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.settings import Settings

if TYPE_CHECKING:  # imported where used, so each command loads only what it needs
    from assistant.handoff.store import HandoffStore


def _encoder(settings: Settings) -> Any:
    from assistant.kb.encoder import default_encoder

    return default_encoder(threads=settings.torch_threads)


def _print_problems(exc: Exception) -> None:
    from assistant.kb.articles import ArticleError

    problems = exc.problems if isinstance(exc, ArticleError) else [exc]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)


def _index_encoder(settings: Settings, root: Path, model: str) -> Any:
    """The encoder an index was built with (the base model when a tuned one is gone)."""
    from assistant.kb.tune import encoder_for

    base = _encoder(settings)
    try:
        return encoder_for(root, model, base, threads=settings.torch_threads)
    except FileNotFoundError:
        return base


def cmd_kb_build(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.kb.articles import ArticleError, load_articles
    from assistant.kb.build import build_from_source
    from assistant.kb.index import current_build
    from assistant.kb.tune import load_tuned, tune_encoder

    source, out = Path(args.source or settings.kb_source), Path(args.index or settings.kb_index)
    try:
        if args.tune:  # fine-tune on the example questions (once per set of examples)
            folder = tune_encoder(load_articles(source), out)
            encoder = load_tuned(folder, threads=settings.torch_threads) if folder else _encoder(settings)
        elif not args.base and (live := current_build(out)) is not None:  # keep the live build's encoder
            model = json.loads((live / "manifest.json").read_text(encoding="utf-8")).get("model", "")
            encoder = _index_encoder(settings, out, model)
        else:
            encoder = _encoder(settings)
        report = build_from_source(
            source,
            out,
            lambda: encoder,
            out_of_scope=settings.out_of_scope_path,
            vocabulary=settings.vocabulary_path,
            show_progress=sys.stderr.isatty(),
        )
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
        f"with {encoder.name} in {report.seconds:.1f}s -> {out}"
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

    encoder = _index_encoder(settings, Path(args.index or settings.kb_index), index.model)
    kb = KnowledgeBase(index, encoder, load_content(settings.content_path).kb)
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


def _shown(path: Path) -> str:
    """A path as an editor reads it: relative to the current folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_kb_test(args: argparse.Namespace, settings: Settings) -> int:
    """Run the knowledge-base regression tests against the index: file:line and what the
    knowledge base did for each failure, then a summary. 1 when a test fails; 2 when the file
    is invalid or there is no index (nothing was run)."""
    from assistant.content import load_content
    from assistant.kb.articles import ArticleError
    from assistant.kb.index import load_index
    from assistant.kb.regression import load_suite, run_suite, summary
    from assistant.kb.search import KnowledgeBase

    path, root = Path(args.file or settings.kb_tests_path), Path(args.index or settings.kb_index)
    shown = _shown(path)
    try:
        index = load_index(root)
    except FileNotFoundError as exc:  # the file is still checked, without its article ids
        index, missing = None, exc
    try:
        suite = load_suite(path, set(index.articles) if index is not None else None, shown=shown)
    except ArticleError as exc:
        _print_problems(exc)
        print(f"{len(exc.problems)} problem(s) in {shown}: no test was run.", file=sys.stderr)
        return 2
    if index is None:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    encoder = _index_encoder(settings, root, index.model)
    kb = KnowledgeBase(index, encoder, load_content(settings.content_path).kb)
    outcomes = run_suite(kb, suite)
    for outcome in outcomes:
        if not outcome.passed:
            print(f"{shown}:{outcome.test.line}: {outcome.message()}")
    print(f"{shown}: {summary(outcomes)}")
    return 0 if all(o.passed for o in outcomes) else 1


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Check everything editors write: articles, settings, troubleshooting trees, products, cases."""
    from assistant.content import BotContent, check_cross_sell, check_top_tasks, load_content
    from assistant.guided.catalog import load_catalog
    from assistant.guided.trees import TreeSet, load_trees
    from assistant.kb.articles import ArticleError, Problem, load_articles

    source = Path(args.source or settings.kb_source)
    problems: list[Problem] = []
    articles = []
    try:
        articles = load_articles(source)
    except ArticleError as exc:
        problems += exc.problems
    article_ids = {a.id for a in articles} if articles else None
    content = BotContent()
    try:
        content = load_content(settings.content_path)
        if article_ids:
            problems += check_top_tasks(content, article_ids, settings.content_path)
    except ArticleError as exc:
        problems += exc.problems
    trees = TreeSet()
    try:
        trees = load_trees(settings.trees_dir, article_ids)
    except ArticleError as exc:
        problems += exc.problems
    products: set[str] = set()
    cases = 0
    catalog = None
    if settings.products_path.is_file():
        try:
            catalog = load_catalog(settings.products_path, settings.cases_path)
            products, cases = set(catalog.products), len(catalog.cases)
        except ArticleError as exc:
            problems += exc.problems
    from assistant.guided.answers import load_typed_answers

    typed = 0
    try:
        typed = len(load_typed_answers(settings.typed_answers_path, trees or None, catalog))
    except ArticleError as exc:
        problems += exc.problems
    if trees and products:
        problems += check_cross_sell(content, set(trees.trees), products, settings.content_path)
    from assistant.kb.spelling import load_vocabulary

    synonyms: dict[str, str] = {}
    try:
        synonyms = load_vocabulary(settings.vocabulary_path)
    except ArticleError as exc:
        problems += exc.problems
    from assistant.conversation.forms import load_forms

    form_fields = 0
    if settings.forms_path.is_file():
        try:
            form_fields = len(load_forms(settings.forms_path).fields)
        except ArticleError as exc:
            problems += exc.problems
    if settings.account_path.is_file():
        from assistant.account.words import load_account_words

        try:
            load_account_words(settings.account_path, article_ids, set(trees.trees) if trees else None)
        except ArticleError as exc:
            problems += exc.problems
    channel_words = settings.content_path.with_name("channels.yml")  # the messaging apps' words
    if channel_words.is_file():
        from assistant.channels.words import WordsError, load_words

        try:
            load_words(channel_words)
        except WordsError as exc:
            where, line, message = re.match(r"(.*):(\d+): (.*)", str(exc), re.S).groups()  # type: ignore[union-attr]
            problems.append(Problem(where, int(line), message))
    if problems:
        _print_problems(ArticleError(problems))
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print(
        f"ok: {len(articles)} articles in {source}, {len(trees)} troubleshooting trees, "
        f"{form_fields} form fields, {typed} typed answers, "
        f"{len(products)} products and {cases} cases, {len(synonyms)} synonyms, "
        f"settings in {settings.content_path}"
    )
    return 0


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.web.server import serve

    serve(settings)
    return 0


def cmd_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.handoff.store import LIST_LIMIT, HandoffError, HandoffStore, InvalidRequest

    store = HandoffStore(settings.database_url, redact=settings.redact_personal_data)
    try:
        if args.handoff_cmd == "list":
            for record in store.list(limit=LIST_LIMIT if args.limit is None else args.limit):
                print(json.dumps(record.to_dict(transcript=False)))
            return 0
        return _hand_back(store, args.id, settings)
    except InvalidRequest as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HandoffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()


def _hand_back(store: HandoffStore, handoff_id: int, settings: Settings) -> int:
    """As the console's hand back does (the whole transcript is kept), as a trusted tool."""
    import asyncio

    from assistant.content import load_content
    from assistant.handoff.service import Actor, HandoffService
    from assistant.rasa_client import RasaClient

    rasa = RasaClient(settings.rasa_url, settings.rasa_token)
    service = HandoffService(store, load_content(settings.content_path).handoff, rasa)
    record = asyncio.run(service.hand_back(handoff_id, Actor("command line", trusted=True)))
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
    model = build.add_mutually_exclusive_group()
    model.add_argument(
        "--tune",
        action="store_true",
        help="fine-tune the encoder on the example questions first (minutes; skipped when unchanged)",
    )
    model.add_argument("--base", action="store_true", help="build with the base encoder, not a tuned one")
    build.set_defaults(func=cmd_kb_build)
    search = kb.add_parser("search", help="ask the knowledge base")
    search.add_argument("question", nargs="?", help="the question; omit to read one per stdin line")
    search.add_argument("--json", action="store_true", help="one JSON object per question")
    search.add_argument("--limit", type=int, default=5, help="articles to list (default 5)")
    search.add_argument("--detail", action="store_true", help="with --json: confidence, passages, scores")
    search.add_argument("--index", help="index folder (default kb_index)")
    search.set_defaults(func=cmd_kb_search)
    kb_test = kb.add_parser("test", help="run data/kb_tests.yml against the index (file:line per failure)")
    kb_test.add_argument("--file", help="the tests (default data/kb_tests.yml)")
    kb_test.add_argument("--index", help="index folder (default kb_index)")
    kb_test.set_defaults(func=cmd_kb_test)

    validate = sub.add_parser("validate", help="check the article files, naming file and line")
    validate.add_argument("--source", help="article folder (default data/kb)")
    validate.set_defaults(func=cmd_validate)

    sub.add_parser("web", help="run the web app (chat page, API)").set_defaults(func=cmd_web)

    handoff = sub.add_parser("handoff", help="handoff records")
    hsub = handoff.add_subparsers(dest="handoff_cmd", required=True)
    listing = hsub.add_parser("list", help="list handoffs, newest first")
    listing.add_argument("--limit", type=int, help="the newest N (default 200; at most 10000)")
    resume = hsub.add_parser("resume", help="hand a conversation back to the bot")
    resume.add_argument("id", type=int)
    handoff.set_defaults(func=cmd_handoff)

    token = sub.add_parser("token", help="sign a customer token (needs ASSISTANT_IDENTITY_SECRET)")
    token.add_argument("customer", help="customer id, e.g. cust-ava")
    token.add_argument("--name", default="")
    token.add_argument("--segment", default="standard")
    token.add_argument("--novice", action="store_true")
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)

    office = sub.add_parser("backoffice", help="create the demo back office customers")
    office.add_argument("--reset", action="store_true", help="delete everything first")
    office.set_defaults(func=cmd_backoffice)
    osub = office.add_subparsers(dest="office_cmd")
    fail = osub.add_parser(
        "fail", help="add a failed operation (the assistant offers help when the customer opens the chat)"
    )
    fail.add_argument("customer", help="customer id, e.g. cust-ava")
    fail.add_argument("kind", choices=("payment", "transfer", "topup"))
    fail.add_argument("amount", help="in pounds, e.g. 42.50")
    fail.add_argument("reason", help="a reason code of data/account.yml, e.g. insufficient_funds")
    fail.add_argument("--what", default="", help="the merchant, the payee's name or the card topped up from")

    trees = sub.add_parser("trees", help="print the troubleshooting trees as outlines")
    trees.add_argument("tree", nargs="?")
    trees.set_defaults(func=cmd_trees)

    staff = sub.add_parser("staff", help="console accounts (agent, lead, editor)")
    ssub = staff.add_subparsers(dest="staff_cmd", required=True)
    add = ssub.add_parser(
        "add", help="create a user or reset one (password from $ASSISTANT_STAFF_PASSWORD, else asked)"
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("agent", "lead", "editor"))
    add.add_argument("--name", default="", help="the name customers see on the agent's replies")
    ssub.add_parser("list", help="list the users")
    remove = ssub.add_parser("disable", help="disable a user and end their sessions")
    remove.add_argument("username")
    staff.set_defaults(func=cmd_staff)
    return parser


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """Sign a customer token, as the bank's website would, for a host page or a test."""
    from assistant.identity import IdentityError, sign

    try:
        claims = {"name": args.name, "segment": args.segment, "novice": args.novice}
        print(sign(settings.identity_secret, args.customer, ttl=args.ttl, **claims))
    except IdentityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_backoffice(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.backoffice import BackOffice

    office = BackOffice(settings.backoffice_url)
    if getattr(args, "office_cmd", None) == "fail":
        return _add_failure(office, args, settings)
    seeded = office.seed_demo(reset=args.reset)
    print("seeded the demo customers" if seeded else "the back office already has customers (use --reset)")
    return 0


def _add_failure(office: Any, args: argparse.Namespace, settings: Settings) -> int:
    from decimal import Decimal, InvalidOperation

    from assistant.account.words import load_account_words
    from assistant.backoffice import Refusal

    try:
        amount = Decimal(args.amount)
    except InvalidOperation:
        print(f"error: {args.amount!r} is not an amount (e.g. 42.50)", file=sys.stderr)
        return 2
    known = load_account_words(settings.account_path).reasons
    if args.reason not in known:
        print(f"error: unknown reason {args.reason!r}; one of: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    office.seed_demo()
    try:
        failure = office.add_failure(args.customer, args.kind, amount, args.reason, what=args.what)
    except (ValueError, Refusal) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"added a failed {failure.kind} {failure.id} of £{failure.amount} ({failure.what}) "
        f"for {args.customer}"
    )
    return 0


def cmd_trees(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.guided.trees import load_trees, outline
    from assistant.kb.articles import ArticleError

    try:
        trees = load_trees(settings.trees_dir)
    except ArticleError as exc:
        _print_problems(exc)
        return 1
    for tree in trees:
        if args.tree in (None, tree.id):
            print(f"{tree.id}: {tree.title}")
            print("\n".join("  " + line for line in outline(tree)))
    return 0


def cmd_staff(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    import os

    from assistant.staff.passwords import WeakPassword
    from assistant.staff.store import StaffStore

    store = StaffStore(settings.database_url)
    if args.staff_cmd == "list":
        for user in store.users():
            state = "active" if user.active else "disabled"
            print(f"{user.username}\t{user.role}\t{user.name}\t{state}")
        return 0
    if args.staff_cmd == "disable":
        if not store.deactivate(args.username):
            print(f"error: no user {args.username}", file=sys.stderr)
            return 1
        print(f"{args.username} disabled")
        return 0
    password = os.environ.get("ASSISTANT_STAFF_PASSWORD") or getpass.getpass(
        f"password for {args.username}: "
    )
    try:
        user = store.add_user(args.username, password, role=args.role, name=args.name)
    except (ValueError, WeakPassword) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{user.username} ({user.role}) can sign in at /console/login")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args, Settings.from_env()))


if __name__ == "__main__":
    sys.exit(main())
