"""Case-based recommendation: similarity, ranking, exclusions and the one-line explanation."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.guided.catalog import Attribute, Case, Catalog, Need, NeedOption, Product, load_catalog
from assistant.guided.recommend import CaseBasedRecommender, RecommenderSettings
from assistant.kb.articles import ArticleError

ROOT = Path(__file__).resolve().parents[2]


def ordinal(key: str, values: list[str], weight: float = 2.0, fees: list[float | None] | None = None) -> Need:
    options = tuple(
        NeedOption(v, v.capitalize(), (v,), fees[i] if fees else None) for i, v in enumerate(values)
    )
    return Need(key, f"{key}?", "ordinal", weight, options)


@pytest.fixture
def catalog() -> Catalog:
    attrs = {"monthly_fee": Attribute("monthly_fee", "Monthly fee", "money")}
    products = {
        "free": Product("free", "Free", "account", "", {"monthly_fee": 0}),
        "travel": Product("travel", "Traveller", "account", "", {"monthly_fee": 4}, high_value=False),
        "gold": Product("gold", "Gold", "account", "", {"monthly_fee": 12}, high_value=True),
        "kids": Product("kids", "Kids", "account", "", {"monthly_fee": 0}, max_age=17),
    }
    purpose = Need(
        "purpose",
        "purpose?",
        "nominal",
        3,
        tuple(NeedOption(v, v.capitalize(), (v,)) for v in ("everyday", "travel", "child")),
        {("everyday", "travel"): 0.5},
    )
    needs = {
        "purpose": purpose,
        "budget": ordinal("budget", ["free", "low", "high"], fees=[0, 5, None]),
        "travel": ordinal("travel", ["never", "sometimes", "often"]),
    }
    cases = [
        Case("a", {"purpose": "travel", "budget": "low", "travel": "often"}, "travel", True),
        Case("b", {"purpose": "travel", "budget": "low", "travel": "often"}, "travel", True),
        Case("c", {"purpose": "travel", "budget": "low", "travel": "sometimes"}, "free", False),
        Case("d", {"purpose": "travel", "budget": "high", "travel": "often"}, "gold", True),
        Case("e", {"purpose": "everyday", "budget": "free", "travel": "never"}, "free", True),
        Case("f", {"purpose": "child"}, "kids", True),
    ]
    return Catalog(attrs, products, needs, cases)


def test_similarity_is_weighted_over_stated_needs(catalog: Catalog) -> None:
    rec = CaseBasedRecommender(catalog)
    same = rec.similarity({"purpose": "travel", "travel": "often"}, catalog.cases[0])
    near = rec.similarity({"purpose": "travel", "travel": "sometimes"}, catalog.cases[0])
    far = rec.similarity({"purpose": "everyday", "travel": "never"}, catalog.cases[0])
    assert same == 1.0
    assert same > near > far
    # purpose everyday vs travel counts 0.5 (weight 3), travel never vs often 0 (weight 2)
    assert far == pytest.approx((3 * 0.5 + 2 * 0.0) / 5)


def test_ranks_by_satisfied_similar_cases_and_explains(catalog: Catalog) -> None:
    result = CaseBasedRecommender(catalog).recommend(
        {"purpose": "travel", "budget": "low", "travel": "often"}
    )
    ids = [r.product.id for r in result.recommendations]
    assert ids[0] == "travel"
    assert "gold" not in ids  # £12 is over a "low" (£5) budget
    assert result.excluded["gold"].startswith("over your budget")
    best = result.recommendations[0]
    assert best.satisfied == 2 and best.chose == 2
    assert best.explanation.startswith("Traveller, £4.00 a month: 2 of 2 customers with similar needs")
    assert "often" in best.explanation and "low" in best.explanation


def test_a_dissatisfied_case_counts_against_its_product(catalog: Catalog) -> None:
    settings = RecommenderSettings(unsatisfied_weight=5.0)
    result = CaseBasedRecommender(catalog, settings).recommend(
        {"purpose": "travel", "budget": "low", "travel": "sometimes"}
    )
    assert "free" not in [r.product.id for r in result.recommendations]


def test_children_get_child_products_and_adults_never_do(catalog: Catalog) -> None:
    rec = CaseBasedRecommender(catalog)
    assert rec.recommend({"purpose": "child"}).best.product.id == "kids"
    adult = rec.recommend({"purpose": "everyday", "budget": "free", "travel": "never"})
    assert "kids" not in [r.product.id for r in adult.recommendations]


def test_high_value_flag(catalog: Catalog) -> None:
    result = CaseBasedRecommender(catalog).recommend(
        {"purpose": "travel", "budget": "high", "travel": "often"}
    )
    assert result.best.product.id in ("gold", "travel")
    assert result.high_value == (result.best.product.id == "gold")


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        RecommenderSettings(neighbours=0)
    with pytest.raises(ValueError):
        RecommenderSettings(min_similarity=2)


def test_real_catalog_loads_and_recommends_sensibly() -> None:
    catalog = load_catalog(ROOT / "data" / "products.yml", ROOT / "data" / "cases.yml")
    assert len(catalog.products) >= 8
    assert {p.kind for p in catalog.products.values()} == {"account", "card"}
    rec = CaseBasedRecommender(catalog)
    traveller = rec.recommend({"purpose": "travel", "budget": "low", "travel": "often", "cash": "some"})
    assert traveller.best is not None and traveller.best.product.monthly_fee <= 5
    child = rec.recommend({"purpose": "child", "budget": "free"})
    assert child.best is not None and child.best.product.id == "junior"
    assert catalog.need("budget").understand("I could pay £4 a month") == "low"
    assert catalog.need("travel").understand("often") == "often"


def test_catalog_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = (
        (ROOT / "data" / "products.yml")
        .read_text(encoding="utf-8")
        .replace("kind: card", "kind: spaceship", 1)
        .replace("decides: free_atm", "decides: free_lunch")
    )
    (tmp_path / "products.yml").write_text(bad, encoding="utf-8")
    (tmp_path / "cases.yml").write_text(
        "cases:\n  - id: x\n    needs: {purpose: flying}\n    chosen: nothing\n    satisfied: maybe\n"
    )
    with pytest.raises(ArticleError) as exc:
        load_catalog(tmp_path / "products.yml")
    assert any("unknown kind 'spaceship'" in str(p) and "products.yml:" in str(p) for p in exc.value.problems)
    assert any(
        "'decides' of need 'cash' names unknown attribute 'free_lunch'" in str(p) for p in exc.value.problems
    )
    with pytest.raises(ArticleError) as exc:
        load_catalog(ROOT / "data" / "products.yml", tmp_path / "cases.yml")
    messages = [str(p) for p in exc.value.problems]
    assert any("cases.yml:3:" in m and "'flying' is not a value" in m for m in messages), messages
    assert any("cases.yml:4:" in m and "unknown product 'nothing'" in m for m in messages), messages
    assert any("cases.yml:5:" in m and "'satisfied'" in m for m in messages), messages


def test_a_comparison_is_never_of_one_when_another_product_qualifies() -> None:
    root = Path(__file__).resolve().parents[2] / "data"
    recommender = CaseBasedRecommender(load_catalog(root / "products.yml", root / "cases.yml"))
    needs = {"purpose": "travel", "budget": "free", "travel": "sometimes", "cash": "some"}
    result = recommender.recommend(needs)
    assert len(result.recommendations) == 1  # only one product of its kind has votes...
    [other] = result.compared_with  # ...so the nearest other that qualifies stands beside it
    assert other.kind == result.recommendations[0].product.kind
    assert other.id not in result.excluded and other.id != result.recommendations[0].product.id
    assert result.recommendations[0].chose < recommender.settings.min_evidence  # and it says so
