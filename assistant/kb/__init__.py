"""Knowledge base: articles -> passages -> index -> search. Knows nothing of Rasa."""

from assistant.kb.articles import Article, ArticleError, Problem, load_articles, parse_article
from assistant.kb.ranking import ArticleHit
from assistant.kb.search import (
    ANSWER,
    CLARIFY,
    DECLINE,
    DecisionSettings,
    KnowledgeBase,
    SearchResult,
)

__all__ = [
    "ANSWER",
    "CLARIFY",
    "DECLINE",
    "Article",
    "ArticleError",
    "ArticleHit",
    "DecisionSettings",
    "KnowledgeBase",
    "Problem",
    "SearchResult",
    "load_articles",
    "parse_article",
]
