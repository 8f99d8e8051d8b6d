"""The transaction forms' fields as editors describe them in ``data/forms.yml``.

Which fields a form has comes from the domain; this file says what kind of answer each field
takes, what customers may say for each option, and how a field is named. Problems are reported
as ``file:line: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.kb.articles import ArticleError
from assistant.yamldoc import Checker, LineMap, line, load_yaml

KINDS = ("choice", "payee", "card", "amount", "confirm")
FORMS = ("order_card_form", "freeze_card_form", "transfer_form")


@dataclass(frozen=True)
class Option:
    """One possible answer: its key (the slot value), its button title, its full meaning and the
    words that mean it."""

    key: str
    title: str
    means: str = ""
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    names: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


@dataclass(frozen=True)
class FormSpec:
    fields: dict[str, Field]
    relations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    yes: tuple[str, ...] = ("yes",)
    no: tuple[str, ...] = ("no",)
    topics: dict[str, str] = field(default_factory=dict)  # form -> what a follow-up question is about

    def field(self, name: str) -> Field | None:
        return self.fields.get(name)


def load_forms(path: Path) -> FormSpec:
    data = load_yaml(path)
    check = Checker(path)
    top = check.mapping(data, "the forms file", 1)
    if top is None:
        raise ArticleError(check.problems)
    check.keys(top, "the forms file", {"fields"}, {"relations", "confirm", "topics"})
    fields: dict[str, Field] = {}
    raw_fields = check.mapping(top.get("fields"), "'fields'", top.line_of("fields"))
    for name, raw in (raw_fields or {}).items():
        spec = _field(check, str(name), raw, raw_fields.line_of(name) if raw_fields else 1)
        if spec is not None:
            fields[spec.name] = spec
    relations: dict[str, tuple[str, ...]] = {}
    raw_relations = top.get("relations")
    if raw_relations is not None:
        mapping = check.mapping(raw_relations, "'relations'", top.line_of("relations"))
        for name in mapping or {}:
            assert mapping is not None
            relations[str(name).lower()] = tuple(
                w.lower() for w in check.strings(mapping, name, "a relation")
            )
    yes: tuple[str, ...] = ("yes",)
    no: tuple[str, ...] = ("no",)
    raw_confirm = top.get("confirm")
    if raw_confirm is not None:
        mapping = check.mapping(raw_confirm, "'confirm'", top.line_of("confirm"))
        if mapping is not None:
            check.keys(mapping, "'confirm'", {"yes", "no"}, set())
            yes = tuple(check.strings(mapping, "yes", "'confirm'")) or yes
            no = tuple(check.strings(mapping, "no", "'confirm'")) or no
    topics: dict[str, str] = {}
    raw_topics = top.get("topics")
    if raw_topics is not None:
        mapping = check.mapping(raw_topics, "'topics'", top.line_of("topics"))
        for form, topic in (mapping or {}).items():
            assert mapping is not None
            if form not in FORMS:
                check.add(mapping.line_of(form), f"'topics' names unknown form '{form}' ({', '.join(FORMS)})")
            elif not isinstance(topic, str) or not topic.strip():
                check.add(mapping.line_of(form), f"the topic of '{form}' must be a few words")
            else:
                topics[str(form)] = topic.strip()
    if check.problems:
        raise ArticleError(check.problems)
    return FormSpec(fields, relations, yes, no, topics)


def _field(check: Checker, name: str, raw: Any, at: int) -> Field | None:
    data = check.mapping(raw, f"field '{name}'", at)
    if data is None:
        return None
    what = f"field '{name}'"
    check.keys(data, what, {"kind", "label"}, {"names", "options"})
    kind = check.text(data, "kind", what)
    if kind is not None and kind not in KINDS:
        check.add(data.line_of("kind"), f"'kind' of {what} must be one of {', '.join(KINDS)}")
        return None
    options: list[Option] = []
    if kind == "choice":
        raw_options = data.get("options")
        mapping = check.mapping(raw_options, f"'options' of {what}", data.line_of("options"))
        if mapping is not None and len(mapping) < 2:
            check.add(line(mapping, data.line), f"{what} needs at least two options")
        for key, value in (mapping or {}).items():
            option = _option(check, what, str(key), value, mapping.line_of(key) if mapping else at)
            if option is not None:
                options.append(option)
    elif "options" in data:
        check.add(data.line_of("options"), f"only a choice field has options ({what} is {kind})")
    return Field(
        name,
        kind or "choice",
        check.text(data, "label", what) or name,
        tuple(w.lower() for w in check.strings(data, "names", what)),
        tuple(options),
    )


def _option(check: Checker, what: str, key: str, raw: Any, at: int) -> Option | None:
    data = check.mapping(raw, f"option '{key}' of {what}", at)
    if not isinstance(data, LineMap):
        return None
    where = f"option '{key}' of {what}"
    check.keys(data, where, {"title"}, {"means", "says"})
    return Option(
        key,
        check.text(data, "title", where) or key,
        check.text(data, "means", where) or "",
        tuple(w.lower() for w in check.strings(data, "says", where)),
    )
