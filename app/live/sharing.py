"""What a subscription's result depends on, read from its document once.

Subscribers share one execution when their document, variables and authorization scope are
equal. The scope is always the organization and the role (role permissions, organization
filters); the viewer joins it when a selected field's value or permission depends on who asks
(``CanSeeEmail``, ``IsSelf``, ``Organization.viewerRole``, ``Session.current`` ...). Arguments
that replay history for one client (``messageEvents(after:)``, ``inboxEvents(after:)``) make a subscription private.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)
from strawberry.permission import PermissionExtension

from app.documents.limits import DocumentGate, selection_weight
from app.schema.permissions import IsAuthenticated, RolePermission

# Fields whose value depends on the viewer itself (not on permissions, which are classified
# automatically): "Type.field".
VIEWER_FIELDS = frozenset(
    {
        "Organization.viewerRole",
        "Session.current",
        "User.sessions",
        "Query.me",
        "Query.viewer",
    }
)
# Arguments that make one subscriber's stream differ from another's: "Type.field.argument".
PRIVATE_ARGUMENTS = frozenset(
    {"Subscription.messageEvents.after", "Subscription.inboxEvents.after"}
)


@dataclass(frozen=True)
class Analysis:
    is_subscription: bool
    viewer_dependent: bool
    private_arguments: bool


def _permission_depends_on_viewer(permission: object) -> bool:
    # The role and organization are in every scope; anything else may read the viewer.
    return not (type(permission) is IsAuthenticated or isinstance(permission, RolePermission))


class _Collect(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.viewer_dependent = False
        self.private_arguments = False

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.type_info.get_parent_type()
        field = self.type_info.get_field_def()
        if parent is None or field is None:
            return
        coordinate = f"{parent.name}.{node.name.value}"
        if coordinate in VIEWER_FIELDS:
            self.viewer_dependent = True
        for argument in node.arguments or ():
            if f"{coordinate}.{argument.name.value}" in PRIVATE_ARGUMENTS:
                self.private_arguments = True
        definition = (field.extensions or {}).get("strawberry-definition")
        if definition is None:
            return
        for extension in getattr(definition, "extensions", ()):
            if isinstance(extension, PermissionExtension) and any(
                _permission_depends_on_viewer(p) for p in extension.permissions
            ):
                self.viewer_dependent = True


class DocumentAnalyzer:
    """Analyses (document, operation name) pairs, remembering the last ``size`` of them.

    With a gate, documents go through its bounds and parse cache first: one over its byte
    limit is not parsed, parsing stops at the token limit of callers without a token (real
    subscriptions hold a few dozen), and one over the selection limit is not visited. Those
    are left to the normal path, which refuses them with the limit's error.
    """

    def __init__(
        self, schema: GraphQLSchema, size: int = 1000, *, gate: DocumentGate | None = None
    ) -> None:
        self.schema = schema
        self.size = size
        self.gate = gate
        self._cache: OrderedDict[tuple[str, str | None], Analysis | None] = OrderedDict()

    def analyse(self, query: str, operation_name: str | None) -> Analysis | None:
        """None when the document does not parse or names no operation: the normal path
        reports that error."""
        key = (query, operation_name)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self._analyse(query, operation_name)
        self._cache[key] = result
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return result

    def _analyse(self, query: str, operation_name: str | None) -> Analysis | None:
        document = self._parse(query)
        if document is None:
            return None
        operation = _operation(document, operation_name)
        if operation is None:
            return None
        if operation.operation is not OperationType.SUBSCRIPTION:
            return Analysis(False, False, False)
        type_info = TypeInfo(self.schema)
        collect = _Collect(type_info)
        # Fragments are visited where they are defined, with their type condition.
        visit(document, TypeInfoVisitor(type_info, collect))
        return Analysis(True, collect.viewer_dependent, collect.private_arguments)

    def _parse(self, query: str) -> DocumentNode | None:
        gate = self.gate
        if gate is None:
            try:
                return parse(query)
            except GraphQLError:
                return None
        if gate.too_large(query) is not None:
            return None
        document = gate.parse_now(query, gate.tokens_for(anonymous=True)).document
        if (
            document is None
            or selection_weight(document, gate.max_selections) > gate.max_selections
        ):
            return None
        return document


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    return None
