"""The action server and domain.yml agree: every registered action is declared and every
declared action is served, and every response renders with no unfilled {placeholder}."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from actions.__main__ import build_executor
from tests.conftest import ROOT

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def test_registered_actions_and_domain_actions_are_the_same(services):
    served = set(build_executor(services).actions)
    declared = set(domain()["actions"])
    forms = {f"validate_{form}" for form in domain()["forms"]}
    assert served - declared <= forms - declared, f"served but not declared: {served - declared - forms}"
    assert declared - served == set(), f"declared but not served: {declared - served}"


def uttered_with() -> dict[str, set[str]]:
    """For every ``utter_message(response=...)`` in the actions: the variables it passes."""
    passed: dict[str, set[str]] = {}
    for path in (ROOT / "actions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                keywords = {k.arg: k.value for k in node.keywords if k.arg}
                response = keywords.get("response")
                if isinstance(response, ast.Constant) and isinstance(response.value, str):
                    passed.setdefault(response.value, set()).update(keywords)
    return passed


def used_directly() -> set[str]:
    """Responses that rules and stories run as actions of their own (nothing passes variables)."""
    used: set[str] = set()
    for path in [*Path(ROOT / "data").rglob("*.yml"), ROOT / "tests" / "test_stories.yml"]:
        used |= set(re.findall(r"- action: (utter_\w+)", path.read_text(encoding="utf-8")))
    return used


def test_every_response_renders_without_an_unfilled_placeholder():
    d = domain()
    slots = set(d.get("slots", {}))
    passed = uttered_with()
    direct = used_directly()
    unfilled = []
    for name, variants in d["responses"].items():
        needed = {p for v in variants for p in PLACEHOLDER.findall(v.get("text") or "")} - slots
        if not needed:
            continue
        if name in direct:
            unfilled.append(f"{name}: run directly by a rule or story, so {sorted(needed)} stay unfilled")
        elif name in passed and not needed <= passed[name]:
            unfilled.append(f"{name}: actions pass {sorted(passed[name])}, it needs {sorted(needed)}")
    assert unfilled == []


def test_the_goodbye_names_the_bank(services, dispatcher):
    import asyncio

    from actions.greet import ActionGoodbye
    from tests.actions.conftest import make_tracker

    asyncio.run(ActionGoodbye(services).run(dispatcher, make_tracker("bye", intent="goodbye"), {}))
    [message] = dispatcher.messages
    assert message["response"] == "utter_goodbye" and message["bank_name"] == services.content.bank_name


def test_every_refusal_of_the_back_office_has_its_words_in_the_domain():
    """The back office raises ``Refusal(code, **params)``; the customer reads the domain's
    ``utter_refusal_<code>`` (``_<what>`` for a balance too low), filled from those params only."""
    from actions.transactions import refusal_response
    from assistant.backoffice.store import Refusal

    responses = domain()["responses"]
    source = ROOT / "assistant" / "backoffice" / "store.py"
    checked = 0
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Refusal":
            code = node.args[0].value  # type: ignore[attr-defined]
            params = {k.arg for k in node.keywords if k.arg}
            whats = ["card_fee", "transfer"] if "what" in params else [None]
            for what in whats:
                refusal = Refusal(code, **{p: what or "x" for p in params})
                name = refusal_response(refusal)
                assert name in responses, f"{source.name}: no response {name} for refusal {code}"
                needed = {p for v in responses[name] for p in PLACEHOLDER.findall(v.get("text") or "")}
                assert needed <= params, f"{name} needs {needed - params}, the refusal gives {params}"
                checked += 1
    assert checked >= 12


def test_every_transaction_field_is_described_and_asked(services):
    """Each field of the transaction forms in the domain is in data/forms.yml, has its question
    (utter_ask_ or action_ask_) and its explanation for help (utter_explain_)."""
    from assistant.conversation.forms import load_forms

    d = domain()
    spec = load_forms(ROOT / "data" / "forms.yml")
    for form in ("order_card_form", "freeze_card_form", "transfer_form"):
        for field_name in d["forms"][form]["required_slots"]:
            assert field_name in spec.fields, f"{field_name} is not in data/forms.yml"
            assert f"action_ask_{field_name}" in d["actions"]
            assert f"utter_ask_{field_name}" in d["responses"]
            assert f"utter_explain_{field_name}" in d["responses"]
