"""The product catalog, the guided questions about needs, and the case base.

``data/products.yml`` holds typed product attributes and the needs questions; ``data/cases.yml``
holds past cases (stated needs, product chosen, satisfied or not). Both are checked completely
and every problem is reported with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.guided.answers import NONE, TypedAnswers
from assistant.guided.matching import Choice, match_choice, words
from assistant.kb.articles import ArticleError, Problem
from assistant.yamldoc import Checker, LineList, LineMap, load_yaml

ATTRIBUTE_TYPES = ("money", "money_unlimited", "percent", "count", "bool", "text")
NEED_TYPES = ("nominal", "ordinal")
KINDS = ("account", "card")
UNLIMITED = "unlimited"


@dataclass(frozen=True)
class Attribute:
    key: str
    label: str
    type: str

    def format(self, value: Any) -> str:
        if value is None:
            return "—"
        if value == UNLIMITED:
            return "unlimited"
        if self.type in ("money", "money_unlimited"):
            amount = float(value)
            if amount == 0:
                return "free" if self.key == "monthly_fee" else "£0"
            return f"£{amount:,.2f}".replace(".00", "")
        if self.type == "percent":
            return f"{float(value):g}%"
        if self.type == "bool":
            return "yes" if value else "no"
        return str(value)


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    kind: str
    summary: str
    attributes: dict[str, Any]
    features: tuple[str, ...] = ()
    high_value: bool = False
    min_age: int | None = None
    max_age: int | None = None

    @property
    def monthly_fee(self) -> float:
        fee = self.attributes.get("monthly_fee")
        return float(fee) if isinstance(fee, (int, float)) else 0.0


# The typed-answer model's thresholds for the product questions, chosen like the trees' ones
# (assistant/guided/matching.py) but on the product questions' own validation answers: a wrong
# guess here only shifts a recommendation the customer sees and can change, so it may guess more.
NEED_CONFIDENCE = 0.5
NEED_AGREEMENT = 0.0


@dataclass(frozen=True)
class NeedOption:
    value: str
    label: str
    match: tuple[str, ...] = ()
    max_monthly_fee: float | None = None
    examples: tuple[str, ...] = ()  # answers customers typed for it (data/typed_answers.yml)

    @property
    def choice(self) -> Choice:
        return Choice(self.value, self.label, self.match, self.examples)


@dataclass(frozen=True)
class Need:
    key: str
    question: str
    type: str
    weight: float
    options: tuple[NeedOption, ...]
    similar: dict[tuple[str, str], float] = field(default_factory=dict)
    decides: str | None = None  # the attribute that matters for this need (highlighted where products differ)
    none_of_these: tuple[str, ...] = ()  # typed answers that fit no option

    @property
    def values(self) -> list[str]:
        return [o.value for o in self.options]

    def option(self, value: str | None) -> NeedOption | None:
        return next((o for o in self.options if o.value == value), None)

    def similarity(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        if self.type == "ordinal":
            values = self.values
            if a in values and b in values and len(values) > 1:
                return 1.0 - abs(values.index(a) - values.index(b)) / (len(values) - 1)
            return 0.0
        return self.similar.get((a, b), self.similar.get((b, a), 0.0))

    def understand(self, text: str, encoder: Any = None) -> str | None:
        """The value a customer's words give for this need ("I go abroad a lot" -> "often")."""
        if text in self.values:
            return text
        if self.key == "budget":
            amount = _amount(text)
            if amount is not None:
                fitting = [
                    o for o in self.options if o.max_monthly_fee is None or o.max_monthly_fee >= amount
                ]
                return fitting[0].value if fitting else self.options[-1].value
        found = match_choice(
            text,
            [o.choice for o in self.options],
            encoder=encoder,
            none_of_these=self.none_of_these,
            confidence=NEED_CONFIDENCE,
            agreement=NEED_AGREEMENT,
        )
        return found.choice.key if found else None

    def spotted(self, text: str) -> str | None:
        """A value stated outright in passing (a listed phrase as whole words), else None."""
        found = match_choice(text, [o.choice for o in self.options])
        return found.choice.key if found and found.how in ("label", "phrase") else None


@dataclass(frozen=True)
class Case:
    id: str
    needs: dict[str, str]
    chosen: str
    satisfied: bool


@dataclass
class Catalog:
    attributes: dict[str, Attribute]
    products: dict[str, Product]
    needs: dict[str, Need]
    cases: list[Case]

    def need(self, key: str) -> Need:
        return self.needs[key]

    def with_answers(self, answers: TypedAnswers) -> Catalog:
        """The same catalog, each need question knowing what customers typed for its options."""
        needs = {}
        for key, need in self.needs.items():
            group = answers.needs.get(key, {})
            options = tuple(replace(o, examples=group.get(o.value, ())) for o in need.options)
            needs[key] = replace(need, options=options, none_of_these=group.get(NONE, ()))
        return replace(self, needs=needs)


def _amount(text: str) -> float | None:
    for word in words(text):
        cleaned = word.lstrip("£$€").rstrip(".")
        try:
            return float(cleaned)
        except ValueError:
            continue
    return None


def load_catalog(products_path: Path, cases_path: Path | None = None) -> Catalog:
    """Load both files; raise :class:`ArticleError` listing every problem with file and line."""
    attributes, products, needs = _parse_products(Path(products_path))
    cases: list[Case] = []
    if cases_path is not None and Path(cases_path).is_file():
        cases = _parse_cases(Path(cases_path), products, needs)
    return Catalog(attributes, products, needs, cases)


def _parse_products(path: Path) -> tuple[dict[str, Attribute], dict[str, Product], dict[str, Need]]:
    data = load_yaml(path)
    check = Checker(path)
    if not isinstance(data, LineMap):
        raise ArticleError([Problem(str(path), 1, "must be a mapping with attributes, products and needs")])
    check.keys(data, "the catalog", {"attributes", "products", "needs"}, set())

    attributes: dict[str, Attribute] = {}
    raw_attrs = check.mapping(data.get("attributes", LineMap()), "'attributes'", data.line_of("attributes"))
    for key, raw in (raw_attrs or {}).items():
        spec = check.mapping(raw, f"attribute '{key}'", raw_attrs.line_of(key) if raw_attrs else 1)
        if spec is None:
            continue
        check.keys(spec, f"attribute '{key}'", {"label", "type"}, set())
        kind = spec.get("type")
        if kind not in ATTRIBUTE_TYPES:
            check.add(
                spec.line_of("type"),
                f"attribute '{key}' has unknown type {kind!r} ({', '.join(ATTRIBUTE_TYPES)})",
            )
            continue
        attributes[key] = Attribute(key, check.text(spec, "label", f"attribute '{key}'") or key, str(kind))

    products: dict[str, Product] = {}
    raw_products = data.get("products")
    if not isinstance(raw_products, LineList) or not raw_products:
        check.add(data.line_of("products"), "'products' must be a non-empty list")
        raw_products = LineList()
    for i, raw in enumerate(raw_products):
        product = _parse_product(check, raw, raw_products.line_at(i), attributes)
        if product is None:
            continue
        if product.id in products:
            check.add(raw_products.line_at(i), f"duplicate product id '{product.id}'")
        products[product.id] = product

    needs: dict[str, Need] = {}
    raw_needs = check.mapping(data.get("needs", LineMap()), "'needs'", data.line_of("needs"))
    for key, raw in (raw_needs or {}).items():
        need = _parse_need(check, key, raw, raw_needs.line_of(key) if raw_needs else 1, attributes)
        if need is not None:
            needs[key] = need
    if check.problems:
        raise ArticleError(check.problems)
    return attributes, products, needs


def _parse_product(check: Checker, raw: Any, at: int, attributes: dict[str, Attribute]) -> Product | None:
    data = check.mapping(raw, "a product", at)
    if data is None:
        return None
    pid = check.text(data, "id", "a product") or "?"
    what = f"product '{pid}'"
    check.keys(
        data, what, {"id", "name", "kind", "summary", "attributes"}, {"features", "eligibility", "high_value"}
    )
    kind = data.get("kind")
    if kind not in KINDS:
        check.add(data.line_of("kind"), f"{what} has unknown kind {kind!r} ({', '.join(KINDS)})")
    values = check.mapping(
        data.get("attributes", LineMap()), f"attributes of {what}", data.line_of("attributes")
    )
    values = values if values is not None else LineMap()
    for key in values:
        if key not in attributes:
            check.add(values.line_of(key), f"{what} gives unknown attribute '{key}'")
    for key, attribute in attributes.items():
        if key not in values:
            check.add(values.line, f"{what} gives no value for '{key}' (use null when it does not apply)")
            continue
        problem = _type_problem(attribute, values[key])
        if problem:
            check.add(values.line_of(key), f"{what}: '{key}' {problem}")
    eligibility = data.get("eligibility") or LineMap()
    min_age = max_age = None
    if isinstance(eligibility, LineMap):
        check.keys(eligibility, f"eligibility of {what}", set(), {"min_age", "max_age", "residency"})
        min_age, max_age = eligibility.get("min_age"), eligibility.get("max_age")
    else:
        check.add(data.line_of("eligibility"), f"eligibility of {what} must be a mapping")
    high_value = data.get("high_value", False)
    if not isinstance(high_value, bool):
        check.add(data.line_of("high_value"), f"'high_value' of {what} must be true or false")
    return Product(
        id=pid,
        name=check.text(data, "name", what) or pid,
        kind=str(kind),
        summary=check.text(data, "summary", what) or "",
        attributes=dict(values),
        features=tuple(check.strings(data, "features", what)),
        high_value=bool(high_value),
        min_age=min_age if isinstance(min_age, int) else None,
        max_age=max_age if isinstance(max_age, int) else None,
    )


def _type_problem(attribute: Attribute, value: Any) -> str | None:
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if attribute.type in ("money", "percent") and not number:
        return f"must be a number, not {value!r}"
    if attribute.type in ("money_unlimited", "count") and not (number or value == UNLIMITED):
        return f"must be a number or 'unlimited', not {value!r}"
    if attribute.type == "bool" and not isinstance(value, bool):
        return f"must be true or false, not {value!r}"
    if attribute.type == "text" and not isinstance(value, str):
        return f"must be a text, not {value!r}"
    return None


def _parse_need(check: Checker, key: str, raw: Any, at: int, attributes: dict[str, Attribute]) -> Need | None:
    what = f"need '{key}'"
    data = check.mapping(raw, what, at)
    if data is None:
        return None
    check.keys(data, what, {"question", "type", "options"}, {"weight", "similar", "decides"})
    decides = data.get("decides")
    if decides is not None and decides not in attributes:
        check.add(data.line_of("decides"), f"'decides' of {what} names unknown attribute {decides!r}")
        decides = None
    kind = data.get("type")
    if kind not in NEED_TYPES:
        check.add(data.line_of("type"), f"{what} has unknown type {kind!r} ({', '.join(NEED_TYPES)})")
    weight = data.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
        check.add(data.line_of("weight"), f"weight of {what} must be a positive number")
        weight = 1
    options: list[NeedOption] = []
    raw_options = data.get("options")
    if not isinstance(raw_options, LineList) or len(raw_options) < 2:
        check.add(data.line_of("options"), f"{what} needs a list of at least 2 options")
        raw_options = LineList()
    for i, raw_option in enumerate(raw_options):
        option_what = f"option {i + 1} of {what}"
        option = check.mapping(raw_option, option_what, raw_options.line_at(i))
        if option is None:
            continue
        check.keys(option, option_what, {"value", "label"}, {"match", "max_monthly_fee"})
        fee = option.get("max_monthly_fee")
        if fee is not None and (not isinstance(fee, (int, float)) or isinstance(fee, bool)):
            check.add(
                option.line_of("max_monthly_fee"),
                f"max_monthly_fee of {option_what} must be a number or null",
            )
            fee = None
        value = check.text(option, "value", option_what)
        if value is None:
            continue
        options.append(
            NeedOption(
                value,
                check.text(option, "label", option_what) or value,
                tuple(m.lower() for m in check.strings(option, "match", option_what)),
                float(fee) if fee is not None else None,
            )
        )
    values = {o.value for o in options}
    similar: dict[tuple[str, str], float] = {}
    raw_similar = data.get("similar") or LineMap()
    if isinstance(raw_similar, LineMap):
        for a, row in raw_similar.items():
            if a not in values:
                check.add(raw_similar.line_of(a), f"'similar' in {what} names unknown value '{a}'")
            if not isinstance(row, LineMap):
                check.add(raw_similar.line_of(a), f"'similar.{a}' in {what} must be a mapping")
                continue
            for b, score in row.items():
                if b not in values:
                    check.add(row.line_of(b), f"'similar.{a}' in {what} names unknown value '{b}'")
                elif not isinstance(score, (int, float)) or not 0 <= score <= 1:
                    check.add(row.line_of(b), f"similarity {a}/{b} in {what} must be between 0 and 1")
                else:
                    similar[(a, b)] = float(score)
    return Need(
        key,
        check.text(data, "question", what) or key,
        str(kind),
        float(weight),
        tuple(options),
        similar,
        str(decides) if decides is not None else None,
    )


def _parse_cases(path: Path, products: dict[str, Product], needs: dict[str, Need]) -> list[Case]:
    data = load_yaml(path)
    check = Checker(path)
    if not isinstance(data, LineMap) or not isinstance(data.get("cases"), LineList):
        raise ArticleError([Problem(str(path), 1, "must be a mapping with a list under 'cases'")])
    check.keys(data, "the case base", {"cases"}, set())
    cases: list[Case] = []
    seen: set[str] = set()
    raw_cases: LineList = data["cases"]
    for i, raw in enumerate(raw_cases):
        case = check.mapping(raw, f"case {i + 1}", raw_cases.line_at(i))
        if case is None:
            continue
        cid = check.text(case, "id", f"case {i + 1}") or f"case{i + 1}"
        what = f"case '{cid}'"
        check.keys(case, what, {"id", "needs", "chosen", "satisfied"}, set())
        if cid in seen:
            check.add(case.line, f"duplicate case id '{cid}'")
        seen.add(cid)
        chosen = check.text(case, "chosen", what)
        if chosen is not None and chosen not in products:
            check.add(case.line_of("chosen"), f"{what} chose unknown product '{chosen}'")
        if not isinstance(case.get("satisfied"), bool):
            check.add(case.line_of("satisfied"), f"'satisfied' of {what} must be true or false")
        stated = case.get("needs")
        if not isinstance(stated, LineMap) or not stated:
            check.add(case.line_of("needs"), f"{what} must state needs as a mapping")
            continue
        for key, value in stated.items():
            if key not in needs:
                check.add(stated.line_of(key), f"{what} states unknown need '{key}'")
            elif str(value) not in needs[key].values:
                check.add(stated.line_of(key), f"{what}: '{value}' is not a value of need '{key}'")
        if chosen:
            cases.append(
                Case(cid, {k: str(v) for k, v in stated.items()}, chosen, bool(case.get("satisfied")))
            )
    if check.problems:
        raise ArticleError(check.problems)
    return cases
