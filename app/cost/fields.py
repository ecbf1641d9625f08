"""What each field of a schema costs on its own, worked out once per schema."""

from dataclasses import dataclass
from typing import TypeAlias
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    get_named_type,
    is_composite_type,
)

from app.cost.directive import Cost

OBJECT_COST = 1
CONNECTION_COST = 2
MUTATION_COST = 10


@dataclass(frozen=True, slots=True)
class FieldCost:
    base: int
    is_connection: bool
    type_name: str


FieldCosts: TypeAlias = dict[str, dict[str, FieldCost]]
NO_FIELDS: dict[str, FieldCost] = {}

_field_costs_by_schema: WeakKeyDictionary[GraphQLSchema, FieldCosts] = WeakKeyDictionary()


def field_costs(schema: GraphQLSchema) -> FieldCosts:
    """Each field's own cost by type name and field name; meta fields are absent."""
    costs = _field_costs_by_schema.get(schema)
    if costs is None:
        costs = {
            type_.name: {
                name: _field_cost(
                    field,
                    is_mutation_root=type_ is schema.mutation_type,
                    is_connection_plumbing=type_.name.endswith("Connection")
                    and name in _CONNECTION_PLUMBING,
                )
                for name, field in type_.fields.items()
            }
            for type_ in schema.type_map.values()
            if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
            and not type_.name.startswith("__")
        }
        _field_costs_by_schema[schema] = costs
    return costs


# A connection's `edges` and `pageInfo` are wrappers around its rows: each row is already
# counted once, as the edge's `node` (or as an item of `nodes`).
_CONNECTION_PLUMBING = frozenset({"edges", "pageInfo"})


def _field_cost(
    field: GraphQLField, *, is_mutation_root: bool, is_connection_plumbing: bool = False
) -> FieldCost:
    type_ = get_named_type(field.type)
    is_connection = isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection")
    weight = _declared_weight(field)
    if weight is not None:
        base = weight
    elif is_mutation_root:
        base = MUTATION_COST
    elif is_connection:
        base = CONNECTION_COST
    elif is_connection_plumbing:
        base = 0
    else:
        base = OBJECT_COST if is_composite_type(type_) else 0
    return FieldCost(base=base, is_connection=is_connection, type_name=type_.name)


def _declared_weight(field: GraphQLField) -> int | None:
    # Strawberry keeps its own field definition, with the directive instances, on the
    # graphql-core field; a schema built from SDL has the directive on its AST node.
    definition = field.extensions.get("strawberry-definition")
    for directive in getattr(definition, "directives", ()):
        if isinstance(directive, Cost):
            return directive.weight
    directive_nodes = field.ast_node.directives if field.ast_node is not None else None
    for directive_node in directive_nodes or ():
        if directive_node.name.value != "cost":
            continue
        for argument in directive_node.arguments or ():
            if argument.name.value == "weight" and isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
    return None
