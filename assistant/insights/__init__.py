"""How self-service performs, from Rasa's own event stream.

- :mod:`~assistant.insights.events` reads one event of Rasa's stream (what the event broker
  publishes, our actions' enrichments included) into a small flat record;
- :mod:`~assistant.insights.outcomes` labels one conversation from its records (pure: no I/O);
- :mod:`~assistant.insights.store` keeps records and labels (SQLAlchemy), answers the dashboard;
- :mod:`~assistant.insights.source` reads the broker (Rasa's SQL broker table) and feeds the store
  exactly once per event, whatever restarts;
- :mod:`~assistant.insights.mining` clusters failed questions into suggestions and applies them.

Nothing here imports Rasa, and nothing heavy is imported at import time.
"""
