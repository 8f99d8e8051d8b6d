"""Demo customers of the fictional Kestrel Bank and their recent activity (docs/demo-bank.md).

Times are ``ago`` in hours before the data is seeded, so a demo always looks current; "this
month" amounts (``month``) are dated inside the current month."""

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
        "ordered": [
            {"last4": "5012", "delivery": "standard", "ago": 48, "dispatched_ago": 24, "working_days": 3}
        ],
        "payments": [
            {"merchant": "Tesco", "amount": "23.40", "card": "4821", "ago": 26},
            {"merchant": "Amazon", "amount": "49.99", "card": "4821", "ago": 50, "status": "pending"},
            {"merchant": "Pret", "amount": "6.85", "card": "7730", "ago": 74},
            {
                "merchant": "Hotel Lisboa",
                "amount": "103.20",
                "original": "€120.00",
                "card": "4821",
                "ago": 240,
                "status": "reverted",
                "reason": "not_claimed",
            },
        ],
        "transfers": [
            {"payee": "Sam Carter", "amount": "200.00", "reference": "Rent share", "ago": 72},
            {"payee": "Mum", "amount": "50.00", "ago": 1, "status": "pending", "due_in_hours": 2},
        ],
        "topups": [{"method": "bank_transfer", "source": "bank transfer", "amount": "500.00", "ago": 120}],
        "month": {"atm": "120.00", "exchange": "300.00"},
    },
    {
        "id": "cust-ben",
        "name": "Ben Okafor",
        "plan": "standard",
        "country": "GB",
        "balance": "18.40",
        "cards": [("1192", "physical", "frozen"), ("3307", "virtual", "active")],
        "payees": [("Alex Kim", "30-90-89", "12345678")],
        "frozen": {"1192": {"note": "lost", "ago": 144}},
        "payments": [
            {
                "merchant": "Spotify",
                "amount": "11.99",
                "card": "3307",
                "ago": 20,
                "status": "declined",
                "reason": "insufficient_funds",
            },
            {
                "merchant": "Uber",
                "amount": "8.20",
                "card": "1192",
                "ago": 120,
                "status": "declined",
                "reason": "card_frozen",
            },
            {"merchant": "Co-op", "amount": "4.50", "card": "3307", "ago": 48},
        ],
        "transfers": [
            {
                "payee": "Alex Kim",
                "amount": "25.00",
                "ago": 48,
                "status": "failed",
                "reason": "insufficient_funds",
            },
            {"payee": "Alex Kim", "amount": "10.00", "ago": 192},
        ],
        "topups": [
            {
                "method": "card",
                "source": "Visa debit ending 0042",
                "amount": "50.00",
                "ago": 3,
                "status": "failed",
                "reason": "issuer_declined",
            },
        ],
        "month": {"atm": "180.00", "exchange": "0"},
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
            ("4410", "physical", "expired"),
        ],
        "payees": [("Léa Dubois", "60-83-71", "87654321")],
        "payments": [
            {"merchant": "Carrefour", "amount": "46.60", "original": "€54.20", "card": "5550", "ago": 22},
            {
                "merchant": "SNCF",
                "amount": "76.50",
                "original": "€89.00",
                "card": "6101",
                "ago": 50,
                "status": "declined",
                "reason": "suspected_fraud",
            },
            {
                "merchant": "Monoprix",
                "amount": "10.60",
                "original": "€12.30",
                "card": "5550",
                "ago": 2,
                "status": "pending",
            },
        ],
        "transfers": [
            {"payee": "Léa Dubois", "amount": "150.00", "ago": 24, "status": "pending", "due_in_hours": 48},
        ],
        "topups": [
            {
                "method": "card",
                "source": "Mastercard ending 9911",
                "amount": "200.00",
                "ago": 96,
                "status": "reverted",
                "reason": "card_not_in_name",
            },
            {
                "method": "bank_transfer",
                "source": "bank transfer",
                "amount": "500.00",
                "ago": 0.5,
                "status": "pending",
            },
        ],
        "month": {"atm": "350.00", "exchange": "2450.00"},
    },
]
