"""``GET /workflow/search``: the subset of Conductor's query syntax the store can answer."""

from __future__ import annotations

import re
from typing import Any

from flowkit.server._errors import ApiError

__all__ = ["parse_query", "summary"]

_CLAUSE = re.compile(r"^\s*(\w+)\s*(=|IN|>|<)\s*(.+?)\s*$", re.IGNORECASE)
_FIELDS = {"workflowType": "name", "status": "status", "correlationId": "correlation_id", "version": "version"}


def parse_query(query: str | None) -> dict[str, Any]:
    """Store filters for ``workflowType IN (a) AND status = RUNNING AND startTime > 1700000000000``."""
    filters: dict[str, Any] = {}
    if not query or not query.strip():
        return filters
    for clause in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ApiError(
                400, f"cannot read search clause {clause!r}; use field = value, field IN (a,b), startTime > ms"
            )
        field, op, raw = match.group(1), match.group(2).upper(), match.group(3)
        values = [v.strip().strip("'\"") for v in raw.strip("()").split(",")]
        if field == "startTime" and op in (">", "<"):
            filters["since" if op == ">" else "until"] = int(values[0])
        elif field in _FIELDS and op in ("=", "IN"):
            column = _FIELDS[field]
            if column == "status":
                filters[column] = values
            elif len(values) == 1:
                filters[column] = int(values[0]) if column == "version" else values[0]
            else:
                raise ApiError(400, f"search: {field} takes one value")
        else:
            raise ApiError(400, f"search: unsupported clause {clause!r}")
    return filters


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """A store row as Conductor's ``WorkflowSummary``."""
    return {
        "workflowId": row["workflow_id"],
        "workflowType": row["name"],
        "version": row["version"],
        "status": row["status"],
        "correlationId": row.get("correlation_id"),
        "startTime": row.get("created"),
        "endTime": row.get("ended"),
        "reasonForIncompletion": row.get("reason"),
    }
