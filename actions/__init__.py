"""Rasa custom actions: thin adapters that read the tracker, call ``assistant.*`` and emit events."""
