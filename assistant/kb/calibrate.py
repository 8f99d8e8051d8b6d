"""Calibrated confidence: ranking features -> probability of being right.

Fitted at build time (:mod:`assistant.kb.build`), with no hand labelling, on:
- the editors' own example questions, each searched as if new: its own passage hidden from
  retrieval and the head fitted without it (cross-fitting), as stand-ins for new customer
  wording: was the best article right, was it among the top k?
- out-of-scope questions (``data/calibration/out_of_scope.txt``): never right.

Three logistic regressions, combined as P(in scope) x P(right | in scope):
- ``scope`` on the scores alone: is this a question the knowledge base covers at all?
- ``top1`` on scores and margins, in-scope questions only: is the best article the right one?
- ``topk`` likewise: is the right article among the top k (worth offering them as choices)?
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from assistant.kb.ranking import ArticleHit

logger = logging.getLogger(__name__)

FEATURES = ("fused1", "margin12", "margin13", "dense1", "head1", "lexical_match")
SCOPE_FEATURES = (0, 3, 4)  # the scope model looks at the scores only, not the margins
OUT_OF_SCOPE_SHARE = 0.3  # weight of out-of-scope examples in the fit, as a share of the total
MIN_EXAMPLES = 20


def features(hits: Sequence[ArticleHit]) -> np.ndarray:
    s = [h.score for h in hits[:3]] + [0.0] * (3 - min(3, len(hits)))
    best = hits[0]
    return np.array(
        [s[0], s[0] - s[1], s[0] - s[2], best.dense, best.head, 1.0 if best.lexical > 0 else 0.0],
        dtype=np.float64,
    )


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


@dataclass(frozen=True)
class Logistic:
    coef: tuple[float, ...]
    intercept: float

    def __call__(self, x: np.ndarray) -> float:
        return _sigmoid(float(np.dot(self.coef, x)) + self.intercept)


@dataclass(frozen=True)
class Calibration:
    scope: Logistic
    top1: Logistic
    topk: Logistic
    k: int = 3
    fitted: bool = False
    report: dict[str, Any] = field(default_factory=dict)

    def p_scope(self, x: np.ndarray) -> float:
        return self.scope(x[list(SCOPE_FEATURES)])

    def p_top1(self, x: np.ndarray) -> float:
        return self.p_scope(x) * self.top1(x)

    def p_topk(self, x: np.ndarray) -> float:
        return self.p_scope(x) * max(self.topk(x), self.top1(x))

    @classmethod
    def default(cls) -> Calibration:
        """A fixed mapping for an index too small to fit on: in scope above a fused score of
        about 0.5, right when the best article also leads the runner-up clearly."""
        return cls(
            scope=Logistic((20.0, 0.0, 0.0), -10.0),
            top1=Logistic((5.0, 60.0, 0.0, 0.0, 0.0, 0.0), -5.5),
            topk=Logistic((10.0, 0.0, 0.0, 0.0, 0.0, 0.0), -4.0),
        )

    def to_dict(self) -> dict[str, Any]:
        def model(m: Logistic) -> dict[str, Any]:
            return {"coef": list(m.coef), "intercept": m.intercept}

        return {
            "features": list(FEATURES),
            "k": self.k,
            "fitted": self.fitted,
            "scope": model(self.scope),
            "top1": model(self.top1),
            "topk": model(self.topk),
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        if tuple(data.get("features", ())) != FEATURES or "scope" not in data:
            raise ValueError("calibration was fitted on other features: rebuild the index")

        def model(d: dict[str, Any]) -> Logistic:
            return Logistic(tuple(d["coef"]), float(d["intercept"]))

        return cls(
            scope=model(data["scope"]),
            top1=model(data["top1"]),
            topk=model(data["topk"]),
            k=int(data.get("k", 3)),
            fitted=bool(data.get("fitted", False)),
            report=data.get("report", {}),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def read_out_of_scope(path: Path) -> list[str]:
    """One question per line; blank lines and ``#`` comments are skipped."""
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:  # all right or all wrong: nothing to separate
        return Logistic(tuple([0.0] * x.shape[1]), 4.0 if y.mean() > 0.5 else -4.0)
    model = LogisticRegression(C=10.0, max_iter=1000)
    model.fit(x, y, sample_weight=w)
    return Logistic(tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def fit_calibration(
    in_scope: Sequence[tuple[np.ndarray, bool, bool]],
    out_of_scope: Sequence[np.ndarray],
    *,
    k: int = 3,
) -> Calibration:
    """``in_scope``: (features, best article right?, right one among the top k?) per example
    question searched as if new; ``out_of_scope``: features of questions that are never right."""
    n_in, n_out = len(in_scope), len(out_of_scope)
    if n_in < MIN_EXAMPLES:
        logger.warning("only %d example questions: using the default calibration", n_in)
        return Calibration.default()
    x = np.vstack([row for row, _, _ in in_scope] + list(out_of_scope))
    y1 = np.array([int(top1) for _, top1, _ in in_scope] + [0] * n_out)
    yk = np.array([int(topk) for _, _, topk in in_scope] + [0] * n_out)
    weights = np.ones(n_in + n_out)
    is_in = np.arange(n_in + n_out) < n_in
    if n_out:
        weights[n_in:] = OUT_OF_SCOPE_SHARE * n_in / ((1 - OUT_OF_SCOPE_SHARE) * n_out)
        scope = _fit(x[:, list(SCOPE_FEATURES)], is_in.astype(int), weights)
    else:
        scope = Calibration.default().scope
    top1 = _fit(x[is_in], y1[is_in], weights[is_in])
    topk = _fit(x[is_in], yk[is_in], weights[is_in])
    report = {
        "in_scope_examples": n_in,
        "out_of_scope_examples": n_out,
        "as_if_new_top1": round(float(np.mean(y1[:n_in])), 4),
        f"as_if_new_top{k}": round(float(np.mean(yk[:n_in])), 4),
    }
    logger.info("calibration fitted: %s", report)
    return Calibration(scope, top1, topk, k=k, fitted=True, report=report)
