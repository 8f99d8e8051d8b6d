"""Answers from the signed-in customer's own account: what they ask about it (``questions``),
the facts that answer it (``facts``), the words for them (``words``, data/account.yml), and the
help offered as the chat opens after something of theirs failed (``proactive``).

Nothing here knows Rasa: the actions pass in the text, the verified customer id and the back office.
"""
