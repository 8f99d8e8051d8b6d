"""Customer self-service assistant: knowledge base, handoff and web app for a Rasa bot."""

__version__ = "0.1.0"
