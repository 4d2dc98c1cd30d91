"""The canonical tables of DESIGN.md: their columns, types, keys and allowed values.

This is the single place that says what a table looks like; loading, validation, the demo
generator and the data-health report all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Column", "Table", "TABLES", "TABLE_NAMES", "ColumnKind", "markdown"]

ColumnKind = Literal["id", "text", "datetime", "amount", "number", "category"]


@dataclass(frozen=True)
class Column:
    """One canonical column.

    ``kind`` decides the dtype: ``id``/``text``/``category`` → ``str``; ``datetime`` →
    ``datetime64[us]``; ``amount`` → ``float64`` that must be ≥ 0; ``number`` →
    ``float64``. ``allowed`` lists the values a category may take. ``future_ok`` marks a
    date that may lie ahead (a campaign's planned end); other dates in the future are errors.
    """

    name: str
    kind: ColumnKind
    required: bool = False
    allowed: tuple[str, ...] = ()
    future_ok: bool = False

    @property
    def dtype(self) -> str:
        return {
            "id": "str", "text": "str", "category": "str", "datetime": "datetime64[us]",
            "amount": "float64", "number": "float64",
        }[self.kind]


@dataclass(frozen=True)
class Table:
    """One canonical table: its columns, its key and its date column."""

    name: str
    columns: tuple[Column, ...]
    key: str | None
    date_column: str | None
    description: str
    foreign_keys: dict[str, str] = field(default_factory=dict)  # column -> referenced table

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _t(name: str, key: str | None, date_column: str | None, description: str,
       columns: list[Column], foreign_keys: dict[str, str] | None = None) -> Table:
    return Table(name, tuple(columns), key, date_column, description, foreign_keys or {})


C = Column
TABLES: dict[str, Table] = {t.name: t for t in [
    _t("orders", "order_id", "ordered_at", "one row per order (a check)", [
        C("order_id", "id", True), C("customer_id", "id"),  # empty for a guest checkout
        C("ordered_at", "datetime", True), C("amount", "amount", True),
        C("status", "category", True, ("completed", "cancelled")),
        C("quantity", "number"), C("channel", "text"), C("region", "text"),
        C("owner", "text"), C("product", "text"), C("deal_id", "id"),
        C("margin", "number"),  # gross profit of the order (may be negative): ROMI on margin
    ]),
    _t("order_lines", None, None, "one row per line of an order (a product on the check)", [
        C("order_id", "id", True), C("product", "text", True), C("quantity", "number"),
        C("amount", "amount"),
    ], {"order_id": "orders"}),
    _t("returns", "return_id", "returned_at",
       "one row per return of goods or refusal of a service after the sale", [
        C("return_id", "id", True), C("order_id", "id", True),
        C("returned_at", "datetime", True), C("amount", "amount", True),
        C("reason", "text", True), C("kind", "category", False, ("return", "refusal")),
    ], {"order_id": "orders"}),
    _t("customers", "customer_id", "first_purchase_at", "one row per customer", [
        C("customer_id", "id", True), C("first_purchase_at", "datetime"),
        C("segment", "text"), C("region", "text"), C("acquired_via", "text"),
    ]),
    _t("leads", "lead_id", "created_at", "one row per potential customer (first contact)", [
        C("lead_id", "id", True), C("created_at", "datetime", True), C("channel", "text"),
        C("campaign_id", "id"), C("region", "text"), C("owner", "text"), C("segment", "text"),
        C("converted_at", "datetime"), C("customer_id", "id"), C("lost_reason", "text"),
    ], {"campaign_id": "campaigns"}),
    _t("deals", "deal_id", "created_at", "one row per opportunity", [
        C("deal_id", "id", True), C("created_at", "datetime", True),
        C("outcome", "category", True, ("open", "won", "lost")),
        C("closed_at", "datetime"), C("stage", "text"), C("amount", "amount"),
        C("owner", "text"), C("region", "text"), C("product", "text"), C("lead_id", "id"),
        C("customer_id", "id"), C("lost_reason", "text"),
    ], {"lead_id": "leads"}),
    _t("deal_stages", None, "entered_at", "one row per deal entering a funnel stage", [
        C("deal_id", "id", True), C("stage", "text", True), C("entered_at", "datetime", True),
    ], {"deal_id": "deals"}),
    _t("feedback", "feedback_id", "received_at",
       "one row per survey answer, review, interview, call or employee note", [
        C("feedback_id", "id", True), C("received_at", "datetime", True),
        C("source", "category", True, ("survey", "review", "interview", "call", "employee")),
        C("score", "number"), C("scale", "category", False, ("csat5", "nps10")),
        C("comment", "text"), C("topic", "text"), C("customer_id", "id"), C("order_id", "id"),
    ]),
    _t("activities", "activity_id", "occurred_at",
       "one row per interaction with a lead, deal or customer", [
        C("activity_id", "id", True), C("occurred_at", "datetime", True),
        C("kind", "category", True, ("call", "email", "meeting", "message")),
        C("owner", "text"), C("lead_id", "id"), C("deal_id", "id"), C("customer_id", "id"),
        C("duration_min", "number"), C("outcome", "text"), C("note", "text"),
    ]),
    _t("campaigns", "campaign_id", "started_at", "one row per marketing campaign", [
        C("campaign_id", "id", True), C("channel", "text", True),
        C("started_at", "datetime", True), C("ended_at", "datetime", future_ok=True), C("spend", "amount"),
        C("name", "text"),
    ]),
    _t("targets", None, None, "one row per target of one KPI in one period", [
        C("period", "text", True), C("kpi", "text", True), C("value", "number", True),
        C("segment_column", "text"), C("segment_value", "text"),
    ]),
]}
del C

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


_KIND_WORDS = {"id": "id", "text": "text", "category": "one of", "datetime": "date and time",
               "amount": "amount ≥ 0", "number": "number"}


def markdown() -> str:
    """The canonical tables as the README's Markdown table (generated, never hand-copied:
    a test compares the README with this).

    >>> markdown().splitlines()[2].startswith("| `orders` | order (a check) | **`order_id`** (id)")
    True
    """
    lines = ["| table | one row per | columns (required **bold**; type) |", "|---|---|---|"]
    for table in TABLES.values():
        cells = []
        for c in table.columns:
            name = f"**`{c.name}`**" if c.required else f"`{c.name}`"
            kind = (f"{_KIND_WORDS[c.kind]} {', '.join(f'`{v}`' for v in c.allowed)}" if c.allowed
                    else _KIND_WORDS[c.kind])
            cells.append(f"{name} ({kind})")
        rows = table.description.removeprefix("one row per ")
        lines.append(f"| `{table.name}` | {rows} | {', '.join(cells)} |")
    return "\n".join(lines)
