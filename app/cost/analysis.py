"""The two walks over an operation: what it may cost, and what it did cost."""

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_operation_ast,
    value_from_ast_untyped,
)

from app.cost.errors import PageSizeOutOfRange
from app.cost.fields import NO_FIELDS, FieldCost, field_costs
from app.platform.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_PAGE_SIZE_ARGUMENTS = ("first", "last")


def compute_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The static cost of one operation of a validated document.

    Raises ``PageSizeOutOfRange`` for a ``first``/``last`` outside 0..100.
    """
    return _StaticCost(schema, document, variables, operation_name).total()


def actual_cost(
    result_data: Mapping[str, Any] | None,
    document: DocumentNode,
    schema: GraphQLSchema,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of what an operation actually returned, to refund the difference.

    Same rules as ``compute_cost``, but walking the response next to the document:

    - a connection costs its own cost plus, for each item it returned, the cost of its
      selection on that item: list fields (``edges``, ``nodes``) contribute the element
      for that item, the other fields (``pageInfo``, ``totalCount``) their whole value,
      just as ``compute_cost`` counts them N times. A connection whose selection has
      no ``edges``/``nodes`` counts its requested N, since nothing shows how many rows
      were read;
    - a plain list costs like its most expensive element (``compute_cost`` counts one);
    - a field missing from the response (skipped, or a fragment for another type) costs
      0, and a null field costs its own cost: its resolver ran.

    When every connection returns a full page it equals ``compute_cost``; otherwise it
    is lower. Pass the operation's variables and name, as for ``compute_cost``.
    """
    if result_data is None:
        return 0
    return _ActualCost(schema, document, variables, operation_name).total(result_data)


class _Walk:
    """What both walks share: the operation, its variables, fragments and field costs."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            raise GraphQLError(f"Cannot find the operation to cost ({operation_name=}).")
        root_type = schema.get_root_type(operation.operation)
        if root_type is None:
            raise GraphQLError(f"The schema has no {operation.operation.value} type.")
        self.operation = operation
        self.root_type_name = root_type.name
        self.field_costs = field_costs(schema)
        self.variables = _variable_values(operation, variables)
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def is_included(self, selection: SelectionNode) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name != "skip" and name != "include":
                continue
            for argument in directive.arguments or ():
                # @skip(if: true) and @include(if: false) exclude; a condition that is
                # not a boolean (an unvalidated document) leaves the selection counted.
                if argument.name.value == "if" and self._value(argument.value) is (name == "skip"):
                    return False
        return True

    def page_size(self, field: FieldNode) -> int:
        size: int | None = None
        for argument in field.arguments or ():
            name = argument.name.value
            if name not in _PAGE_SIZE_ARGUMENTS:
                continue
            value = self._value(argument.value)
            # Anything but an integer is left to variable coercion to reject.
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if not 0 <= value <= MAX_PAGE_SIZE:
                raise PageSizeOutOfRange(name, value, MAX_PAGE_SIZE, argument.value)
            size = value if size is None else max(size, value)
        return DEFAULT_PAGE_SIZE if size is None else size

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, BooleanValueNode):
            return node.value
        return None


def _variable_values(
    operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    defaults = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    if not defaults:
        return variables or {}
    return {**defaults, **(variables or {})}


class _StaticCost(_Walk):
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        super().__init__(schema, document, variables, operation_name)
        self.fragment_costs: dict[str, int] = {}

    def total(self) -> int:
        return self.selection_set(self.operation.selection_set, self.root_type_name)

    def selection_set(self, selection_set: SelectionSetNode, type_name: str) -> int:
        costs = self.field_costs.get(type_name, NO_FIELDS)
        total = 0
        for selection in selection_set.selections:
            if selection.directives and not self.is_included(selection):
                continue
            if isinstance(selection, FieldNode):
                cost = costs.get(selection.name.value)
                if cost is None:  # __typename, __schema, __type
                    continue
                children = (
                    self.selection_set(selection.selection_set, cost.type_name)
                    if selection.selection_set is not None
                    else 0
                )
                if cost.is_connection:
                    total += cost.base + self.page_size(selection) * children
                else:
                    total += cost.base + children
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                total += self.selection_set(
                    selection.selection_set,
                    condition.name.value if condition is not None else type_name,
                )
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        # A fragment's cost depends only on its own selections (and the variables),
        # so each named fragment is costed once however often it is spread.
        cost = self.fragment_costs.get(name)
        if cost is None:
            definition = self.fragments.get(name)
            if definition is None:
                return 0
            self.fragment_costs[name] = 0  # guards against cycles in unvalidated documents
            cost = self.selection_set(
                definition.selection_set, definition.type_condition.name.value
            )
            self.fragment_costs[name] = cost
        return cost


class _ActualCost(_Walk):
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        super().__init__(schema, document, variables, operation_name)
        # The walk visits the same selection set once per returned item (500 messages of
        # an inbox page): its fields, and which of them can cost anything, are worked out
        # once per selection set; scalar-only selections are never walked.
        self._fields: dict[tuple[int, str], list[tuple[FieldNode, FieldCost, str]]] = {}
        self._costly: dict[tuple[int, str], list[tuple[FieldNode, FieldCost, str, bool]]] = {}
        self._free: dict[tuple[int, str], bool] = {}
        self._flat: dict[tuple[int, str], list[tuple[str, int]] | None] = {}

    def total(self, data: Mapping[str, Any]) -> int:
        return self.selection_set(self.operation.selection_set, self.root_type_name, data)

    def selection_set(
        self, selection_set: SelectionSetNode, type_name: str, data: Mapping[str, Any]
    ) -> int:
        total = 0
        for field, cost, key, children_free in self.costly_fields(selection_set, type_name):
            if key not in data:
                continue
            value = data[key]
            if cost.is_connection:
                total += self.connection(field, cost, value)
            elif children_free or value is None:
                total += cost.base
            else:
                total += cost.base + self.children(field, cost, value)
        return total

    def field(self, field: FieldNode, cost: FieldCost, value: Any) -> int:
        if cost.is_connection:
            return self.connection(field, cost, value)
        return cost.base + self.children(field, cost, value)

    def children(self, field: FieldNode, cost: FieldCost, value: Any) -> int:
        if value is None or field.selection_set is None:
            return 0
        if isinstance(value, list):
            return max((self.children(field, cost, item) for item in value), default=0)
        return self.selection_set(field.selection_set, cost.type_name, value)

    def connection(self, field: FieldNode, cost: FieldCost, value: Any) -> int:
        if not isinstance(value, Mapping) or field.selection_set is None:
            return cost.base
        selected = [
            (child, child_cost, value[key])
            for child, child_cost, key in self.included_fields(field.selection_set, cost.type_name)
            if key in value
        ]
        lengths = [
            len(child_value) for *_, child_value in selected if isinstance(child_value, list)
        ]
        items = max(lengths) if lengths else self.page_size(field)
        total = cost.base
        for child, child_cost, child_value in selected:
            if self.costs_nothing(child, child_cost):
                continue
            if isinstance(child_value, list):
                flat = self.flat_plan(child, child_cost)
                if flat is not None and all(isinstance(item, Mapping) for item in child_value):
                    # Rows whose selection holds no connection or list: sum their fields'
                    # own costs without walking each row.
                    total += len(child_value) * child_cost.base + sum(
                        base for item in child_value for key, base in flat if key in item
                    )
                else:
                    total += sum(self.field(child, child_cost, item) for item in child_value)
            else:
                total += items * self.field(child, child_cost, child_value)
        return total

    def included_fields(
        self, selection_set: SelectionSetNode, type_name: str
    ) -> list[tuple[FieldNode, FieldCost, str]]:
        memo_key = (id(selection_set), type_name)
        fields = self._fields.get(memo_key)
        if fields is None:
            fields = self._fields[memo_key] = list(
                self.fields(selection_set, type_name, frozenset())
            )
        return fields

    def costly_fields(
        self, selection_set: SelectionSetNode, type_name: str
    ) -> list[tuple[FieldNode, FieldCost, str, bool]]:
        """The included fields that can cost something, each with whether its own
        selection is free (then it costs its base whatever it returned)."""
        memo_key = (id(selection_set), type_name)
        costly = self._costly.get(memo_key)
        if costly is None:
            costly = self._costly[memo_key] = [
                (field, cost, key, self.children_free(field, cost))
                for field, cost, key in self.included_fields(selection_set, type_name)
                if not self.costs_nothing(field, cost)
            ]
        return costly

    def flat_plan(self, field: FieldNode, cost: FieldCost) -> list[tuple[str, int]] | None:
        """(key, cost) of each costly field of ``field``'s selection when none of them is a
        connection or selects anything costly itself; otherwise None."""
        if cost.is_connection or field.selection_set is None:
            return None
        memo_key = (id(field.selection_set), cost.type_name)
        if memo_key not in self._flat:
            costly = self.costly_fields(field.selection_set, cost.type_name)
            flat = all(
                not entry_cost.is_connection and children_free
                for _, entry_cost, _, children_free in costly
            )
            self._flat[memo_key] = (
                [(key, entry_cost.base) for _, entry_cost, key, _ in costly] if flat else None
            )
        return self._flat[memo_key]

    def costs_nothing(self, field: FieldNode, cost: FieldCost) -> bool:
        return cost.base == 0 and not cost.is_connection and self.children_free(field, cost)

    def children_free(self, field: FieldNode, cost: FieldCost) -> bool:
        return field.selection_set is None or self.is_free(field.selection_set, cost.type_name)

    def is_free(self, selection_set: SelectionSetNode, type_name: str) -> bool:
        """True when nothing under the selection costs anything (scalars only): whatever
        the response holds there, its cost is 0."""
        memo_key = (id(selection_set), type_name)
        free = self._free.get(memo_key)
        if free is None:
            free = self._free[memo_key] = all(
                self.costs_nothing(field, cost)
                for field, cost, _ in self.included_fields(selection_set, type_name)
            )
        return free

    def fields(
        self, selection_set: SelectionSetNode, type_name: str, spread: frozenset[str]
    ) -> Iterator[tuple[FieldNode, FieldCost, str]]:
        """The included fields of a selection set, through its fragments, as written."""
        costs = self.field_costs.get(type_name, NO_FIELDS)
        for selection in selection_set.selections:
            if not self.is_included(selection):
                continue
            if isinstance(selection, FieldNode):
                cost = costs.get(selection.name.value)
                if cost is not None:
                    yield selection, cost, (selection.alias or selection.name).value
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                yield from self.fields(
                    selection.selection_set,
                    condition.name.value if condition is not None else type_name,
                    spread,
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                definition = self.fragments.get(name)
                if definition is not None and name not in spread:
                    yield from self.fields(
                        definition.selection_set,
                        definition.type_condition.name.value,
                        spread | {name},
                    )
