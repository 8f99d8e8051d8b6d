"""Guided troubleshooting trees, written by content editors in YAML under ``data/troubleshooting/``.

A tree asks questions (nodes with options) until it reaches a leaf, which resolves the problem
(followed by "Did this solve it?"), hands off to a person, or starts a form. Loading checks every
file completely and reports each problem with file and line: unknown keys, missing questions or
answers, links to unknown nodes, articles or forms, unreachable nodes and cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.guided.answers import NONE, TypedAnswers
from assistant.guided.matching import Choice, Match, match_choice
from assistant.kb.articles import ArticleError, Problem
from assistant.yamldoc import Checker, LineList, LineMap, load_yaml

RESOLVED, HANDOFF, FORM = "resolved", "handoff", "form"
OUTCOMES = (RESOLVED, HANDOFF, FORM)
FORMS = ("order_card", "freeze_card", "transfer")
CONFIRM_NODE = "__did_it_help__"
CONFIRM_QUESTION = "Did this solve it?"
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Option:
    label: str
    next: str
    match: tuple[str, ...] = ()
    line: int = 1
    examples: tuple[str, ...] = ()  # answers customers typed for it (data/typed_answers.yml)

    @property
    def choice(self) -> Choice:
        return Choice(self.label, self.label, self.match, self.examples)


@dataclass(frozen=True)
class TreeNode:
    id: str
    question: str | None = None
    options: tuple[Option, ...] = ()
    answer: str | None = None
    outcome: str | None = None
    form: str | None = None
    article: str | None = None
    line: int = 1
    none_of_these: tuple[str, ...] = ()  # typed answers that fit no option

    @property
    def is_leaf(self) -> bool:
        return not self.options


CONFIRM = TreeNode(
    id=CONFIRM_NODE,
    question=CONFIRM_QUESTION,
    options=(
        Option("Yes, it did", YES, ("yes", "yep", "yeah", "it did", "solved", "sorted", "fixed", "works")),
        Option("No, it didn't", NO, ("no", "nope", "not", "didn't", "still", "doesn't")),
    ),
)


@dataclass(frozen=True)
class Tree:
    id: str
    title: str
    start: str
    nodes: dict[str, TreeNode]
    triggers: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    path: str = ""

    def node(self, node_id: str | None) -> TreeNode:
        if node_id == CONFIRM_NODE:
            return CONFIRM
        return self.nodes[node_id or self.start]

    def choose(self, node_id: str | None, text: str, encoder: Any = None) -> Option | None:
        """The option of ``node_id`` that ``text`` picks: an option's ``next`` id or its words."""
        node = self.node(node_id)
        for option in node.options:
            if text == option.next:  # a button sends the next node's id
                return option
        found: Match | None = match_choice(
            text, [o.choice for o in node.options], encoder=encoder, none_of_these=node.none_of_these
        )
        if found is None:
            return None
        return next(o for o in node.options if o.label == found.choice.key)


@dataclass
class TreeSet:
    trees: dict[str, Tree] = field(default_factory=dict)

    def get(self, tree_id: str | None) -> Tree | None:
        return self.trees.get(tree_id or "")

    def for_article(self, article_id: str) -> Tree | None:
        return next((t for t in self.trees.values() if article_id in t.articles), None)

    def pick(self, text: str, encoder: Any = None) -> Tree | None:
        """The tree a customer's words describe (title, id or trigger phrases), if one stands out."""
        if text in self.trees:
            return self.trees[text]
        choices = [Choice(t.id, t.title, t.triggers) for t in self.trees.values()]
        found = match_choice(text, choices, encoder=encoder, min_similarity=0.55)
        return self.trees[found.choice.key] if found else None

    def __iter__(self) -> Any:
        return iter(self.trees.values())

    def __len__(self) -> int:
        return len(self.trees)

    def with_answers(self, answers: TypedAnswers) -> TreeSet:
        """The same trees, each question knowing what customers typed for its options."""
        trees: dict[str, Tree] = {}
        for tree in self.trees.values():
            nodes = {}
            for node_id, node in tree.nodes.items():
                group = answers.trees.get((tree.id, node_id), {})
                options = tuple(
                    replace(o, examples=group.get(o.label, ()) or group.get(o.next, ())) for o in node.options
                )
                nodes[node_id] = replace(node, options=options, none_of_these=group.get(NONE, ()))
            trees[tree.id] = replace(tree, nodes=nodes)
        return TreeSet(trees)


def load_trees(root: Path, article_ids: Iterable[str] | None = None) -> TreeSet:
    """Load every ``*.yml`` under ``root``; raise :class:`ArticleError` with all problems found."""
    root = Path(root)
    known_articles = set(article_ids) if article_ids is not None else None
    problems: list[Problem] = []
    trees: dict[str, Tree] = {}
    if not root.is_dir():
        return TreeSet()
    for path in sorted(root.rglob("*.yml")):
        try:
            tree, found = _parse_tree(path, known_articles)
        except ArticleError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(found)
        if tree is not None:
            if tree.id in trees:
                problems.append(
                    Problem(str(path), 1, f"tree id '{tree.id}' is also used by {trees[tree.id].path}")
                )
            else:
                trees[tree.id] = tree
    if problems:
        raise ArticleError(problems)
    return TreeSet(trees)


def _parse_tree(path: Path, known_articles: set[str] | None) -> tuple[Tree | None, list[Problem]]:
    data = load_yaml(path)
    check = Checker(path)
    if not isinstance(data, LineMap):
        check.add(1, "a troubleshooting tree must be a mapping with id, title, start and nodes")
        return None, check.problems
    check.keys(data, "the tree", {"id", "title", "start", "nodes"}, {"triggers", "articles"})
    tree_id = check.text(data, "id", "the tree") or path.stem
    if tree_id != path.stem:
        check.add(data.line_of("id"), f"tree id '{tree_id}' must equal the file name '{path.stem}'")
    title = check.text(data, "title", "the tree") or tree_id
    triggers = check.strings(data, "triggers", "the tree")
    articles = check.strings(data, "articles", "the tree")
    if known_articles is not None:
        for i, article in enumerate(articles):
            if article not in known_articles:
                at = data["articles"].line_at(i) if isinstance(data["articles"], LineList) else data.line
                check.add(at, f"unknown article '{article}'")
    start = check.text(data, "start", "the tree")
    nodes_raw = (
        check.mapping(data.get("nodes"), "'nodes'", data.line_of("nodes")) if "nodes" in data else None
    )
    nodes: dict[str, TreeNode] = {}
    if nodes_raw is not None:
        if not nodes_raw:
            check.add(nodes_raw.line, "'nodes' is empty")
        for node_id, raw in nodes_raw.items():
            node = _parse_node(check, node_id, raw, nodes_raw.line_of(node_id), known_articles)
            if node is not None:
                nodes[node_id] = node
        _check_links(check, nodes, start, nodes_raw)
    if check.problems:
        return None, check.problems
    assert start is not None
    return Tree(tree_id, title, start, nodes, tuple(triggers), tuple(articles), str(path)), []


def _parse_node(
    check: Checker, node_id: str, raw: Any, at: int, known_articles: set[str] | None
) -> TreeNode | None:
    what = f"node '{node_id}'"
    data = check.mapping(raw, what, at)
    if data is None:
        return None
    check.keys(data, what, set(), {"question", "options", "answer", "outcome", "form", "article"})
    article = check.text(data, "article", what)
    if article and known_articles is not None and article not in known_articles:
        check.add(data.line_of("article"), f"unknown article '{article}' in {what}")
    if "options" in data:
        question = check.text(data, "question", what)
        if question is None:
            check.add(data.line, f"{what} has options but no question")
        for key in ("answer", "outcome", "form"):
            if key in data:
                check.add(
                    data.line_of(key), f"{what} asks a question, so it cannot have '{key}' (only leaves do)"
                )
        raw_options = data["options"]
        options: list[Option] = []
        if not isinstance(raw_options, LineList) or len(raw_options) < 2:
            check.add(data.line_of("options"), f"{what} needs a list of at least 2 options")
        else:
            for i, raw_option in enumerate(raw_options):
                option = _parse_option(check, raw_option, raw_options.line_at(i), f"option {i + 1} of {what}")
                if option is not None:
                    options.append(option)
        return TreeNode(node_id, question, tuple(options), article=article, line=at)
    answer = check.text(data, "answer", what)
    outcome = check.text(data, "outcome", what)
    if answer is None:
        check.add(at, f"{what} is a leaf (no options) but has no answer")
    if "question" in data:
        check.add(data.line_of("question"), f"{what} has a question but no options")
    if outcome is None:
        check.add(at, f"{what} is a leaf but has no outcome ({', '.join(OUTCOMES)})")
    elif outcome not in OUTCOMES:
        check.add(data.line_of("outcome"), f"unknown outcome '{outcome}' in {what} ({', '.join(OUTCOMES)})")
    form = check.text(data, "form", what)
    if outcome == FORM and form is None:
        check.add(at, f"{what} starts a form but names none ({', '.join(FORMS)})")
    if form is not None and form not in FORMS:
        check.add(data.line_of("form"), f"unknown form '{form}' in {what} ({', '.join(FORMS)})")
    if form is not None and outcome != FORM:
        check.add(data.line_of("form"), f"{what} names a form but its outcome is not 'form'")
    return TreeNode(node_id, answer=answer, outcome=outcome, form=form, article=article, line=at)


def _parse_option(check: Checker, raw: Any, at: int, what: str) -> Option | None:
    data = check.mapping(raw, what, at)
    if data is None:
        return None
    check.keys(data, what, {"label", "next"}, {"match"})
    label, target = check.text(data, "label", what), check.text(data, "next", what)
    match = check.strings(data, "match", what)
    if label is None or target is None:
        return None
    return Option(label, target, tuple(m.lower() for m in match), data.line_of("next"))


def _check_links(check: Checker, nodes: dict[str, TreeNode], start: str | None, raw: LineMap) -> None:
    if start is not None and start not in raw:
        check.add(1, f"start node '{start}' is not one of the nodes")
    for node in nodes.values():
        for option in node.options:
            if option.next not in raw:
                check.add(
                    option.line,
                    f"option '{option.label}' of node '{node.id}' leads to unknown node '{option.next}'",
                )
    if start is None or start not in nodes:
        return
    # Depth-first walk from the start: white (unseen), grey (on the path), black (done).
    colour: dict[str, int] = {}
    reported: set[tuple[str, str]] = set()

    def visit(node_id: str, trail: list[str]) -> None:
        colour[node_id] = 1
        for option in nodes[node_id].options if node_id in nodes else ():
            target = option.next
            if target not in nodes:
                continue
            if colour.get(target) == 1 and (node_id, target) not in reported:
                reported.add((node_id, target))
                loop = " → ".join([*trail[trail.index(target) :], node_id, target])
                check.add(option.line, f"cycle: {loop}")
            elif target not in colour:
                visit(target, [*trail, node_id])
        colour[node_id] = 2

    visit(start, [])
    for node_id, node in nodes.items():
        if node_id not in colour:
            check.add(node.line, f"node '{node_id}' cannot be reached from the start node '{start}'")


def outline(tree: Tree, node_id: str | None = None, depth: int = 0) -> Sequence[str]:
    """The tree as indented lines (for ``assistant trees show``)."""
    node = tree.node(node_id)
    pad = "  " * depth
    if node.is_leaf:
        extra = f" -> {node.form}" if node.form else ""
        return [f"{pad}[{node.outcome}{extra}] {node.answer}"]
    lines = [f"{pad}{node.question}"]
    for option in node.options:
        lines.append(f"{pad}- {option.label}")
        lines.extend(outline(tree, option.next, depth + 2))
    return lines
