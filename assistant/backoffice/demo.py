"""Demo customers of the fictional Kestrel Bank (see docs/demo-bank.md)."""

from __future__ import annotations

from typing import Any

DEMO_CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": "cust-ava",
        "name": "Ava Patel",
        "plan": "premium",
        "country": "GB",
        "balance": "2450.00",
        "cards": [("4821", "physical", "active"), ("7730", "virtual", "active")],
        "payees": [("Sam Carter", "20-45-12", "31926819"), ("Mum", "04-00-04", "55667788")],
    },
    {
        "id": "cust-ben",
        "name": "Ben Okafor",
        "plan": "standard",
        "country": "GB",
        "balance": "18.40",
        "cards": [("1192", "physical", "frozen"), ("3307", "virtual", "active")],
        "payees": [("Alex Kim", "30-90-89", "12345678")],
    },
    {
        "id": "cust-chloe",
        "name": "Chloe Martin",
        "plan": "plus",
        "country": "FR",
        "balance": "640.00",
        "cards": [
            ("5550", "physical", "active"),
            ("6101", "physical", "active"),
            ("6102", "physical", "active"),
        ],
        "payees": [("Léa Dubois", "60-83-71", "87654321")],
    },
]
