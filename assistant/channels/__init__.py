"""The messaging apps (Telegram, WhatsApp through Twilio, Slack, Facebook Messenger), in pure
Python: which are switched on (:mod:`.config`), how each shows a bot message (:mod:`.render`),
the words customers read (:mod:`.words`), account linking (:mod:`.linking`) and retries answered
once (:mod:`.dedup`). Rasa's side is :mod:`rasa_addons.messaging`; nothing here imports Rasa.
"""
