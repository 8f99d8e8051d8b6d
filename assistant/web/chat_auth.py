"""The customer's side of the web app: a chat route is answered only for the conversation whose
credential the caller presents (``X-Chat-Credential``, issued by the socket.io channel with the
session id; see :mod:`assistant.chat_session`). The session id alone opens nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request

from assistant import chat_session
from assistant.settings import Settings
from assistant.web.auth import error
from assistant.web.history import SESSION_ID

Handler = Callable[..., Awaitable[Any]]

NO_CREDENTIAL = "this conversation needs its credential: reload the chat to get a new one"


def owns_conversation(*, in_body: bool = False) -> Callable[[Handler], Handler]:
    """Check the session id (from the path's ``session_id``, or the JSON body's with ``in_body``)
    and the credential presented for it: 400 for a malformed id, 403 without a good credential."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            if in_body:
                body = request.json if request.body else None
                session_id = body.get("session_id") if isinstance(body, dict) else None
            else:
                session_id = kwargs.get("session_id")
            if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
                return error(400, "bad session id")
            settings: Settings = request.app.ctx.settings
            given = request.headers.get(chat_session.HEADER, "")
            try:
                chat_session.verify(settings.session_secret, session_id, given)
            except chat_session.CredentialError:
                return error(403, NO_CREDENTIAL)
            return await handler(request, *args, **kwargs)

        return wrapper

    return decorate
