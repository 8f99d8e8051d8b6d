"""Understanding a conversation beyond one intent: what a message says for a form (values for
any field, corrections, a change of mind), kept apart from Rasa like kb/ and guided/."""
