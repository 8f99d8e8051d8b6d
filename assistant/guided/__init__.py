"""Guided Q&A: troubleshooting trees, the product catalog and the case-based recommender."""
