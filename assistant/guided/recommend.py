"""Case-based recommendation: rank products by how similar past customers fared with them.

Retrieve the past cases most similar to the stated needs (weighted local similarities per need),
let each neighbour vote for the product it chose (for it when satisfied, against it when not),
drop products the customer's stated budget or eligibility rules out, and explain each
recommendation in one line from the cases that support it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.guided.catalog import Case, Catalog, Product


@dataclass(frozen=True)
class RecommenderSettings:
    neighbours: int = 12  # how many similar cases vote
    min_similarity: float = 0.5  # cases less similar than this don't vote
    unsatisfied_weight: float = 0.6  # how much a dissatisfied case counts against its product
    limit: int = 3  # products shown side by side
    min_evidence: int = 3  # fewer past cases than this behind a pick: said plainly

    def __post_init__(self) -> None:
        if self.neighbours < 1:
            raise ValueError("neighbours must be at least 1")
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError("min_similarity must be between 0 and 1")
        if self.unsatisfied_weight < 0:
            raise ValueError("unsatisfied_weight must not be negative")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")


@dataclass(frozen=True)
class Neighbour:
    case: Case
    similarity: float


@dataclass(frozen=True)
class Recommendation:
    product: Product
    score: float
    satisfied: int
    chose: int
    explanation: str
    neighbours: tuple[Neighbour, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product.id,
            "name": self.product.name,
            "score": round(self.score, 4),
            "satisfied": self.satisfied,
            "chose": self.chose,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class RecommendationResult:
    needs: dict[str, str]
    recommendations: tuple[Recommendation, ...]  # one kind (accounts or cards), compared side by side
    excluded: dict[str, str] = field(default_factory=dict)  # product id -> why
    also: Recommendation | None = None  # the best match of the other kind, suggested apart
    # when only one product of that kind has votes: the nearest other that qualifies, compared
    # next to it (no recommendation of its own), so a comparison is never of one
    compared_with: tuple[Product, ...] = ()

    @property
    def best(self) -> Recommendation | None:
        return self.recommendations[0] if self.recommendations else None

    @property
    def high_value(self) -> bool:
        return any(r.product.high_value for r in self.recommendations[:1])


class CaseBasedRecommender:
    def __init__(self, catalog: Catalog, settings: RecommenderSettings | None = None):
        self.catalog = catalog
        self.settings = settings or RecommenderSettings()

    def similarity(self, needs: dict[str, str], case: Case) -> float:
        """Weighted mean of local similarities over the needs the customer stated (0..1).

        A need the past case did not state counts half, as unknown."""
        total = weight_sum = 0.0
        for key, value in needs.items():
            need = self.catalog.needs.get(key)
            if need is None or value is None:
                continue
            weight_sum += need.weight
            other = case.needs.get(key)
            total += need.weight * (0.5 if other is None else need.similarity(value, other))
        return total / weight_sum if weight_sum else 0.0

    def neighbours(self, needs: dict[str, str]) -> list[Neighbour]:
        scored = [Neighbour(c, self.similarity(needs, c)) for c in self.catalog.cases]
        scored = [n for n in scored if n.similarity >= self.settings.min_similarity]
        scored.sort(key=lambda n: (-n.similarity, n.case.id))
        return scored[: self.settings.neighbours]

    def excluded(self, needs: dict[str, str]) -> dict[str, str]:
        why: dict[str, str] = {}
        budget = self.catalog.needs.get("budget")
        option = budget.option(needs.get("budget")) if budget else None
        for product in self.catalog.products.values():
            if option and option.max_monthly_fee is not None and product.monthly_fee > option.max_monthly_fee:
                why[product.id] = f"over your budget ({option.label.lower()})"
            elif product.max_age is not None and product.max_age < 18 and needs.get("purpose") != "child":
                why[product.id] = f"only for customers under {product.max_age + 1}"
            elif needs.get("purpose") == "child" and (product.min_age or 0) >= 18:
                why[product.id] = "only for adults"
        return why

    def recommend(self, needs: dict[str, str]) -> RecommendationResult:
        needs = {k: v for k, v in needs.items() if v}
        neighbours = self.neighbours(needs)
        excluded = self.excluded(needs)
        votes: dict[str, list[Neighbour]] = {}
        for n in neighbours:
            votes.setdefault(n.case.chosen, []).append(n)
        ranked: list[Recommendation] = []
        for product_id, supporters in votes.items():
            product = self.catalog.products.get(product_id)
            if product is None or product_id in excluded:
                continue
            score = sum(
                n.similarity * (1.0 if n.case.satisfied else -self.settings.unsatisfied_weight)
                for n in supporters
            )
            happy = sum(1 for n in supporters if n.case.satisfied)
            if score <= 0:
                continue
            ranked.append(
                Recommendation(
                    product,
                    score,
                    happy,
                    len(supporters),
                    self.explain(product, needs, supporters),
                    tuple(supporters),
                )
            )
        ranked.sort(key=lambda r: (-r.score, r.product.monthly_fee, r.product.id))
        if not ranked:
            return RecommendationResult(needs, (), excluded)
        # Side by side only what compares: products of the best match's kind; the best of the
        # other kind (a card for an account, say) is suggested on its own.
        kind = ranked[0].product.kind
        same = tuple(r for r in ranked if r.product.kind == kind)[: self.settings.limit]
        also = next((r for r in ranked if r.product.kind != kind), None)
        compared: tuple[Product, ...] = ()
        if len(same) == 1:
            best = same[0].product
            others = [
                p
                for p in self.catalog.products.values()
                if p.kind == kind and p.id != best.id and p.id not in excluded
            ]
            others.sort(key=lambda p: (abs(p.monthly_fee - best.monthly_fee), p.monthly_fee, p.id))
            compared = tuple(others[:1])
        return RecommendationResult(needs, same, excluded, also, compared)

    def explain(self, product: Product, needs: dict[str, str], supporters: list[Neighbour]) -> str:
        """One line: how many similar customers chose it and were happy, and on which needs."""
        happy = [n for n in supporters if n.case.satisfied]
        shared: list[str] = []
        for key, value in needs.items():
            need = self.catalog.needs.get(key)
            if need is None:
                continue
            agreeing = sum(1 for n in happy if n.case.needs.get(key) == value)
            if happy and agreeing * 2 >= len(happy):
                option = need.option(value)
                if option is not None:
                    shared.append(option.label.lower())
        fee = "no monthly fee" if product.monthly_fee == 0 else f"£{product.monthly_fee:.2f} a month"
        who = f"{len(happy)} of {len(supporters)} customers with similar needs chose it and were happy"
        because = f" ({', '.join(shared[:3])})" if shared else ""
        return f"{product.name}, {fee}: {who}{because}."
