"""The demo back office: customers, accounts, cards, payees and transfers, in one module."""

from assistant.backoffice.store import BackOffice, Refusal

__all__ = ["BackOffice", "Refusal"]
