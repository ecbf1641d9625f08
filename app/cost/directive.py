import strawberry
from strawberry.schema_directive import Location


@strawberry.schema_directive(
    name="cost",
    locations=[Location.FIELD_DEFINITION],
    description=(
        "Replaces the field's own cost in the static query cost analysis; "
        "its selection still adds, and on a connection is still multiplied by first/last."
    ),
)
class Cost:
    weight: int
