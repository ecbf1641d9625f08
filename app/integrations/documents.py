"""A webhook's subscription document: checked once when it is saved.

It must be one subscription operation over our ``Subscription`` type, valid against the
schema, with one root field that listens to live events, no variables (nothing would fill
them) and no ``after`` (a webhook replays nothing: its outbox is its history).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)

from app.platform import events
from app.platform.input_limits import WEBHOOK_DOCUMENT

# The root fields a webhook may use, and the live-event topic each listens to.
TOPICS = {
    "messageEvents": events.MESSAGES,
    "conversationEvents": events.CONVERSATIONS,
    "deviceEvents": events.DEVICES,
    "agentRunEvents": events.AGENT_RUNS,
    "usageWarnings": events.USAGE,  # a plan limit at 80 % or 100 % (app.plans)
}
MAX_DOCUMENT_CHARACTERS = WEBHOOK_DOCUMENT


@dataclass(frozen=True, slots=True)
class CheckedDocument:
    topic: str
    # The document names one conversation: its deliveries keep the events' order.
    ordered: bool


class DocumentRefused(Exception):
    pass


def check_document(schema: GraphQLSchema, query: str) -> CheckedDocument:
    if len(query) > MAX_DOCUMENT_CHARACTERS:
        raise DocumentRefused(f"The document is longer than {MAX_DOCUMENT_CHARACTERS} characters.")
    try:
        document = parse(query)
    except GraphQLError as error:
        raise DocumentRefused(f"The document does not parse: {error.message}") from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        raise DocumentRefused("The document must hold exactly one subscription operation.")
    operation = operations[0]
    if operation.variable_definitions:
        raise DocumentRefused("A webhook's document takes no variables: write values inline.")
    errors = validate(schema, document)
    if errors:
        raise DocumentRefused(f"The document is not valid: {errors[0].message}")
    roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    if len(roots) != 1 or len(operation.selection_set.selections) != 1:
        raise DocumentRefused("The subscription must select exactly one field.")
    root = roots[0]
    topic = TOPICS.get(root.name.value)
    if topic is None:
        names = ", ".join(sorted(TOPICS))
        raise DocumentRefused(f"A webhook can subscribe to {names}; not {root.name.value}.")
    arguments = {argument.name.value for argument in root.arguments or ()}
    if "after" in arguments:
        raise DocumentRefused("A webhook's document cannot use `after`.")
    return CheckedDocument(topic=topic, ordered="conversationId" in arguments)
