"""The action server: ``python -m actions`` (port 5055 by default).

Builds the shared services (model, knowledge base, handoff store) once, before it listens, and
injects them into every action.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from actions.agent import ActionAgentJoined, ActionAgentMessage
from actions.complaint import ActionComplaint
from actions.greet import ActionGoodbye, ActionGreet
from actions.handoff import ActionHandoff
from actions.kb import ActionBrowse, ActionKnowledgeBaseAnswer, ActionOutsideATask, ActionShowArticle
from actions.observe import ObservingExecutor
from actions.products import (
    NEEDS,
    ActionAskNeed,
    ActionChooseProduct,
    ActionRecommend,
    ActionSalesOffer,
    ValidateProductNeedsForm,
)
from actions.services import Services, build_services
from actions.tickets import ActionKeepWaiting, ActionSubmitTicket, ActionWaitNotice, ValidateTicketForm
from actions.transactions import (
    ActionCancelForm,
    ActionCheckIdentity,
    ActionFormHelp,
    ActionFreezeCard,
    ActionOrderCard,
    ActionTransfer,
    ValidateFreezeCardForm,
    ValidateOrderCardForm,
    ValidateTransferForm,
    ask_actions,
)
from actions.troubleshoot import (
    ActionAfterTreeLeft,
    ActionAskTreeAnswer,
    ActionAskTreeId,
    ActionCrossSell,
    ActionTreeFinished,
    ValidateTroubleshootForm,
)
from assistant.kb.watch import ArticleWatcher
from assistant.settings import Settings

ACTIONS = (
    ActionGreet,
    ActionGoodbye,
    ActionKnowledgeBaseAnswer,
    ActionShowArticle,
    ActionOutsideATask,
    ActionBrowse,
    ActionHandoff,
    ActionWaitNotice,
    ActionKeepWaiting,
    ActionSubmitTicket,
    ValidateTroubleshootForm,
    ActionAskTreeId,
    ActionAskTreeAnswer,
    ActionAfterTreeLeft,
    ActionCrossSell,
    ValidateProductNeedsForm,
    ActionRecommend,
    ActionChooseProduct,
    ActionSalesOffer,
    ActionCheckIdentity,
    ValidateOrderCardForm,
    ValidateFreezeCardForm,
    ValidateTransferForm,
    ActionOrderCard,
    ActionFreezeCard,
    ActionTransfer,
    ActionFormHelp,
    ActionCancelForm,
)


def build_executor(services: Services) -> ActionExecutor:
    executor = ObservingExecutor(services)
    for action in ACTIONS:
        executor.register_action(action(services))
    for ask in ask_actions(services):
        executor.register_action(ask)
    executor.register_action(ActionComplaint(services))
    executor.register_action(ActionTreeFinished())
    executor.register_action(ActionAgentMessage())
    executor.register_action(ActionAgentJoined())
    executor.register_action(ValidateTicketForm())
    for need in NEEDS:
        executor.register_action(ActionAskNeed(services, need))
    return executor


def add_status_route(app: Any, services: Services) -> None:
    """``GET /kb``: the index build this action server answers from (internal, like the server:
    the deployment's checks and ``make bench-scale`` see an article edit reach every server)."""
    from sanic import response

    @app.get("/kb")
    async def kb_status(request: Any) -> Any:
        await asyncio.to_thread(services.kb.get)  # switches to a newly published build, if any
        return response.json({"build": getattr(services.kb, "build_id", "")})


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    services = build_services(settings)
    if settings.watch_articles:
        ArticleWatcher(
            settings.kb_source,
            settings.kb_index,
            services.encoder,
            out_of_scope=settings.out_of_scope_path,
            vocabulary=settings.vocabulary_path,
            live=services.kb,
        ).start()
    app = create_app(build_executor(services))
    add_status_route(app, services)
    app.run(host="127.0.0.1", port=settings.action_port, single_process=True, access_log=False)


if __name__ == "__main__":
    main()
