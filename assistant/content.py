"""Editor settings from ``data/assistant.yml``: names, top tasks, knowledge-base thresholds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from assistant.kb.articles import ArticleError, Problem, line_of
from assistant.kb.search import DecisionSettings

FORM_NAMES = ("order_card", "freeze_card", "transfer")

# What each button does; its title is the editor's, under ``buttons:`` in data/assistant.yml.
BUTTON_PAYLOADS = {
    "talk_to_person": "/request_human",
    "cancel": "/cancel",
    "browse": "/browse",
    "all_topics": "/browse",
    "troubleshoot": "/troubleshoot",
    "fix_step_by_step": "/troubleshoot",
    "compare": "/compare_products",
    "answer_again": "/compare_products",
    "sales": "/request_sales",
    "not_sure": "/hesitate",
    "order_card_now": "/order_card",
    "freeze_card_now": "/freeze_card",
    "transfer_now": "/make_transfer",
    "none_of_these": "/request_human",
    "leave_message": "/leave_message",
    "keep_waiting": "/keep_waiting",
}
# Labels of input fields the chat shows (the amount box).
LABELS = ("amount", "recommended")


@dataclass(frozen=True)
class TopTaskSettings:
    """Order the top tasks by what customers asked most in the last ``days``, once at least
    ``min_events`` answers were logged; before that, the editor's order."""

    from_logs: bool = True
    days: int = 30
    min_events: int = 20
    count: int = 5


@dataclass(frozen=True)
class SalesSettings:
    """When to offer a sales adviser during product comparison."""

    offer_on_high_value: bool = True  # the best recommendation is a high-value product
    offer_on_hesitation: bool = True  # the customer hesitates ("not sure") after a recommendation


@dataclass(frozen=True)
class HandoffSettings:
    """When the assistant hands off without being asked."""

    after_failed_turns: int = 2  # consecutive questions it could not answer; 0 turns it off
    minutes_per_customer: int = 4  # for the estimated wait: position in the queue x this
    on_repeated_complaint: bool = True  # a second complaint hands off at once
    on_repetition: bool = True  # the same question again after its answer hands off
    long_wait_minutes: int = 10  # a queued customer is told, once, and offered to leave a message
    message_when_no_agent: bool = True  # nobody online: offer to leave a message instead of a queue
    max_per_hour: int = 3  # handoffs a conversation or a customer may open in an hour; 0: no limit

    def __post_init__(self) -> None:
        for name in ("after_failed_turns", "minutes_per_customer", "long_wait_minutes", "max_per_hour"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise TypeError(f"{name} must be a whole number, 0 or more")


@dataclass(frozen=True)
class InsightsSettings:
    """How conversations are labelled and failed questions mined (README, "Insights")."""

    assumed_hours: int = 24  # an answer with no return on the same topic within this: resolved (assumed)
    durable_days: int = 7  # a resolution with no return on the same topic within this: durable
    confirm_intents: tuple[str, ...] = ("thank",)  # said right after an answer: resolved (confirmed)
    min_cluster_size: int = 3  # failed questions alike before they become a suggestion
    cluster_distance: float = 0.5  # cosine distance of alike questions (bench/tune_mining.py)
    mine_every_seconds: int = 5  # how often new failed questions are clustered

    def __post_init__(self) -> None:
        for name in ("assumed_hours", "durable_days", "min_cluster_size", "mine_every_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{name} must be a whole number, 1 or more")
        if not isinstance(self.cluster_distance, int | float) or not 0 < self.cluster_distance < 1:
            raise TypeError("cluster_distance must be a number between 0 and 1")
        intents = self.confirm_intents
        if isinstance(intents, str) or not all(isinstance(i, str) for i in intents):
            raise TypeError("confirm_intents must be a list of intent names")
        object.__setattr__(self, "confirm_intents", tuple(intents))


@dataclass(frozen=True)
class CrossSell:
    """One suggestion offered after a confirmed resolution of one of ``after`` (tree ids)."""

    after: tuple[str, ...]
    text: str
    article: str | None = None
    product: str | None = None


PROACTIVE_KINDS = ("payment", "transfer", "topup")
PROACTIVE_PLACEHOLDERS = {"amount", "when", "what", "reason"}


@dataclass(frozen=True)
class ProactiveRule:
    """Help offered as the chat opens when a signed-in customer's ``payment``, ``transfer`` or
    ``topup`` failed in the last ``within_hours``; shown once per failed operation."""

    text: str
    within_hours: int = 24
    enabled: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.within_hours, int) or self.within_hours < 1:
            raise TypeError("within_hours must be a whole number of hours, 1 or more")
        from assistant.account.words import placeholders

        unknown = placeholders(self.text) - PROACTIVE_PLACEHOLDERS
        if unknown:
            raise TypeError(
                f"text cannot use {{{', '.join(sorted(unknown))}}}: "
                f"it may use {sorted(PROACTIVE_PLACEHOLDERS)}"
            )


@dataclass(frozen=True)
class BotContent:
    assistant_name: str = "Kes"
    bank_name: str = "Kestrel Bank"
    top_tasks: tuple[str, ...] = ()
    kb: DecisionSettings = field(default_factory=DecisionSettings)
    top_task_settings: TopTaskSettings = field(default_factory=TopTaskSettings)
    sales: SalesSettings = field(default_factory=SalesSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    insights: InsightsSettings = field(default_factory=InsightsSettings)
    cross_sell_enabled: bool = True
    cross_sell: tuple[CrossSell, ...] = ()
    article_actions: dict[str, str] = field(default_factory=dict)  # article id -> form
    # forms started at once, next to the article, when a signed-in customer tells of their own
    # situation ("I've lost my card"): acting is the help, and cancel is one tap away
    act_at_once: tuple[str, ...] = ()
    buttons: dict[str, str] = field(default_factory=dict)  # button key -> title
    labels: dict[str, str] = field(default_factory=dict)  # input field -> label
    proactive: dict[str, ProactiveRule] = field(default_factory=dict)  # failure kind -> its offer

    def button(self, key: str, **entities: str) -> dict[str, str]:
        """The button ``key`` (see BUTTON_PAYLOADS) with the editor's title."""
        payload = BUTTON_PAYLOADS[key] + (json.dumps(entities) if entities else "")
        return {"title": self.buttons.get(key) or key.replace("_", " ").capitalize(), "payload": payload}

    def label(self, key: str) -> str:
        return self.labels.get(key) or key.capitalize()

    def cross_sell_for(self, tree_id: str) -> CrossSell | None:
        if not self.cross_sell_enabled:
            return None
        return next((c for c in self.cross_sell if tree_id in c.after or "*" in c.after), None)


def load_content(path: Path) -> BotContent:
    """Read and validate the file; problems are raised as :class:`ArticleError` with file and line."""
    path = Path(path)
    if not path.is_file():
        return BotContent()
    shown = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ArticleError([Problem(shown, line, f"invalid YAML: {exc.problem}")]) from exc
    if not isinstance(data, dict):
        raise ArticleError([Problem(shown, 1, "must be a mapping of settings")])
    problems: list[Problem] = []
    known = {
        "assistant_name",
        "bank_name",
        "top_tasks",
        "kb",
        "top_tasks_from_logs",
        "sales",
        "cross_sell",
        "article_actions",
        "act_at_once",
        "handoff",
        "insights",
        "buttons",
        "labels",
        "proactive",
    }
    for key in sorted(set(data) - known):
        problems.append(Problem(shown, line_of(path, key), f"unknown setting '{key}'"))
    tasks = data.get("top_tasks") or []
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        problems.append(
            Problem(shown, line_of(path, "top_tasks"), "'top_tasks' must be a list of article ids")
        )
        tasks = []
    kb_raw: Any = data.get("kb") or {}
    kb = DecisionSettings()
    if not isinstance(kb_raw, dict):
        problems.append(Problem(shown, line_of(path, "kb"), "'kb' must be a mapping"))
    else:
        allowed = {f.name for f in fields(DecisionSettings)}
        unknown = sorted(set(kb_raw) - allowed)
        for key in unknown:
            problems.append(Problem(shown, line_of(path, key), f"unknown kb setting '{key}'"))
        try:
            kb = DecisionSettings(**{k: v for k, v in kb_raw.items() if k in allowed})
        except (TypeError, ValueError) as exc:
            problems.append(Problem(shown, line_of(path, "kb"), f"kb settings: {exc}"))
    top = _settings(data, "top_tasks_from_logs", TopTaskSettings, path, problems)
    sales = _settings(data, "sales", SalesSettings, path, problems)
    handoff = _settings(data, "handoff", HandoffSettings, path, problems)
    insights = _settings(data, "insights", InsightsSettings, path, problems)
    cross_raw: Any = data.get("cross_sell") or {}
    offers: list[CrossSell] = []
    cross_enabled = True
    if not isinstance(cross_raw, dict):
        problems.append(Problem(shown, line_of(path, "cross_sell"), "'cross_sell' must be a mapping"))
    else:
        cross_enabled = bool(cross_raw.get("enabled", True))
        for key in sorted(set(cross_raw) - {"enabled", "offers"}):
            problems.append(Problem(shown, line_of(path, key), f"unknown cross_sell setting '{key}'"))
        for offer in cross_raw.get("offers") or []:
            if not isinstance(offer, dict) or not offer.get("text") or not offer.get("after"):
                problems.append(
                    Problem(shown, line_of(path, "offers"), "each cross_sell offer needs 'after' and 'text'")
                )
                continue
            unknown = sorted(set(offer) - {"after", "text", "article", "product"})
            for key in unknown:
                problems.append(Problem(shown, line_of(path, key), f"unknown cross_sell offer key '{key}'"))
            after = offer["after"] if isinstance(offer["after"], list) else [offer["after"]]
            offers.append(
                CrossSell(
                    tuple(str(a) for a in after),
                    str(offer["text"]),
                    offer.get("article"),
                    offer.get("product"),
                )
            )
    actions_raw: Any = data.get("article_actions") or {}
    actions: dict[str, str] = {}
    if not isinstance(actions_raw, dict):
        problems.append(
            Problem(shown, line_of(path, "article_actions"), "'article_actions' must be a mapping")
        )
    else:
        for article, form in actions_raw.items():
            if form not in FORM_NAMES:
                problems.append(
                    Problem(
                        shown, line_of(path, str(article)), f"unknown form '{form}' ({', '.join(FORM_NAMES)})"
                    )
                )
            else:
                actions[str(article)] = str(form)
    at_once_raw: Any = data.get("act_at_once") or []
    at_once: list[str] = []
    if not isinstance(at_once_raw, list):
        problems.append(Problem(shown, line_of(path, "act_at_once"), "'act_at_once' must be a list of forms"))
    else:
        for form in at_once_raw:
            if form not in FORM_NAMES:
                problems.append(
                    Problem(
                        shown,
                        line_of(path, "act_at_once"),
                        f"unknown form '{form}' ({', '.join(FORM_NAMES)})",
                    )
                )
            else:
                at_once.append(str(form))
    buttons = _titles(data, "buttons", tuple(BUTTON_PAYLOADS), path, problems)
    labels = _titles(data, "labels", LABELS, path, problems)
    proactive = _proactive(data, path, problems)
    if problems:
        raise ArticleError(problems)
    return BotContent(
        assistant_name=str(data.get("assistant_name") or BotContent.assistant_name),
        bank_name=str(data.get("bank_name") or BotContent.bank_name),
        top_tasks=tuple(tasks),
        kb=kb,
        top_task_settings=top,
        sales=sales,
        handoff=handoff,
        insights=insights,
        cross_sell_enabled=cross_enabled,
        cross_sell=tuple(offers),
        article_actions=actions,
        act_at_once=tuple(at_once),
        buttons=buttons,
        labels=labels,
        proactive=proactive,
    )


def _proactive(data: dict[str, Any], path: Path, problems: list[Problem]) -> dict[str, ProactiveRule]:
    raw = data.get("proactive") or {}
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), line_of(path, "proactive"), "'proactive' must be a mapping"))
        return {}
    rules: dict[str, ProactiveRule] = {}
    for kind, settings in raw.items():
        line = line_of(path, f"{kind}:")
        if kind not in PROACTIVE_KINDS or not isinstance(settings, dict) or not settings.get("text"):
            problems.append(
                Problem(
                    str(path), line, f"proactive '{kind}': one of {', '.join(PROACTIVE_KINDS)}, with a text"
                )
            )
            continue
        unknown = sorted(set(settings) - {f.name for f in fields(ProactiveRule)})
        for key in unknown:
            problems.append(Problem(str(path), line_of(path, key), f"unknown proactive setting '{key}'"))
        try:
            rules[str(kind)] = ProactiveRule(**{k: v for k, v in settings.items() if k not in unknown})
        except TypeError as exc:
            problems.append(Problem(str(path), line, f"proactive '{kind}': {exc}"))
    return rules


def _titles(
    data: dict[str, Any], key: str, known: tuple[str, ...], path: Path, problems: list[Problem]
) -> dict[str, str]:
    """Button titles or field labels: every known key, each a short line of text."""
    raw: Any = data.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), line_of(path, key), f"'{key}' must be a mapping of titles"))
        return {}
    titles: dict[str, str] = {}
    for name, title in raw.items():
        if name not in known:
            problems.append(
                Problem(
                    str(path), line_of(path, str(name)), f"unknown {key} key '{name}' ({', '.join(known)})"
                )
            )
        elif not isinstance(title, str) or not title.strip() or len(title) > 60:
            problems.append(
                Problem(str(path), line_of(path, str(name)), f"{key}.{name}: a title of 1 to 60 characters")
            )
        else:
            titles[str(name)] = title.strip()
    for name in known:
        if name not in raw:
            problems.append(Problem(str(path), line_of(path, key), f"{key}: '{name}' has no title"))
    return titles


def _settings(data: dict[str, Any], key: str, cls: Any, path: Path, problems: list[Problem]) -> Any:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), line_of(path, key), f"'{key}' must be a mapping"))
        return cls()
    allowed = {f.name for f in fields(cls)}
    for name in sorted(set(raw) - allowed):
        problems.append(Problem(str(path), line_of(path, name), f"unknown {key} setting '{name}'"))
    try:
        return cls(**{k: v for k, v in raw.items() if k in allowed})
    except TypeError as exc:
        problems.append(Problem(str(path), line_of(path, key), f"{key}: {exc}"))
        return cls()


def check_top_tasks(content: BotContent, article_ids: set[str], path: Path) -> list[Problem]:
    problems = [
        Problem(str(path), line_of(path, task), f"top task {task!r} is not an article id")
        for task in content.top_tasks
        if task not in article_ids
    ]
    for article in content.article_actions:
        if article not in article_ids:
            problems.append(
                Problem(
                    str(path), line_of(path, article), f"article_actions: {article!r} is not an article id"
                )
            )
    for offer in content.cross_sell:
        if offer.article and offer.article not in article_ids:
            problems.append(
                Problem(
                    str(path), line_of(path, offer.article), f"cross_sell: unknown article {offer.article!r}"
                )
            )
    return problems


def check_cross_sell(
    content: BotContent, tree_ids: set[str], product_ids: set[str], path: Path
) -> list[Problem]:
    problems = []
    for offer in content.cross_sell:
        for tree in offer.after:
            if tree != "*" and tree not in tree_ids:
                problems.append(Problem(str(path), line_of(path, tree), f"cross_sell: unknown tree {tree!r}"))
        if offer.product and offer.product not in product_ids:
            problems.append(
                Problem(
                    str(path), line_of(path, offer.product), f"cross_sell: unknown product {offer.product!r}"
                )
            )
    return problems
