"""Read-only tools the model may call while it triages: our own data, never anything that writes.

The definitions follow Kimi's tool rules (docs/kimi.md §6): names match ^[a-zA-Z_][a-zA-Z0-9-_]{2,63}$,
the parameters root is an object, every property has a type. `run_tool` answers a call through the
TicketLookup the service passes in; a malformed call gets an error object back, never an exception,
so the model can correct itself on the next turn.
"""

from __future__ import annotations

import json
from typing import Any

from triage.adapters.llm.base import TicketLookup

MAX_RESULTS = 10


def tool_definitions() -> list[dict]:
    return [
        {
            "type": "function",
            "function": {
                "name": "find_similar_tickets",
                "description": "Search earlier tickets that look like this one (possible duplicates). "
                "Returns reference, subject, status, category and a short summary, best match first.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {
                            "type": "string",
                            "description": "words to look for: error text, feature, product",
                        },
                        "limit": {"type": "integer", "description": f"how many, 1 to {MAX_RESULTS}"},
                    },
                    "required": ["query"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "requester_recent_tickets",
                "description": "The requester's most recent earlier tickets, newest first.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "limit": {"type": "integer", "description": f"how many, 1 to {MAX_RESULTS}"}
                    },
                    "required": [],
                },
            },
        },
    ]


def run_tool(lookup: TicketLookup | None, *, name: str, arguments: str) -> dict[str, Any]:
    """The tool's answer as a JSON-able object; {"error": ...} for anything that cannot be run."""
    if lookup is None:
        return {"error": "no tools are available for this ticket"}
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        return {"error": f"arguments are not JSON: {exc.msg}"}
    except RecursionError:  # "[[[[..." thousands deep (tests/hostile)
        return {"error": "arguments are nested too deeply"}
    if not isinstance(args, dict):
        return {"error": "arguments must be a JSON object"}
    limit = args.get("limit", 5)
    limit = max(1, min(MAX_RESULTS, limit)) if isinstance(limit, int) and not isinstance(limit, bool) else 5
    if name == "find_similar_tickets":
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            return {"error": "query must be a non-empty string"}
        return {"tickets": lookup.similar_tickets(query=query.strip()[:500], limit=limit)}
    if name == "requester_recent_tickets":
        return {"tickets": lookup.requester_tickets(limit=limit)}
    return {"error": f"unknown tool {name!r}"}
