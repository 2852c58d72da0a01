"""The queue's search snippets: computed once for the page, looked up per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import template

from triage.selectors.search_snippets import Snippet, search_snippets

register = template.Library()


@register.simple_tag(takes_context=True)
def queue_search_snippets(context, tickets: Iterable) -> dict[int, Snippet]:
    q = context["request"].GET.get("q", "").strip()[:200]
    return search_snippets(tickets=list(tickets), q=q) if q else {}


@register.filter
def snippet_for(snippets: Mapping[int, Snippet] | None, ticket_id: int) -> Snippet | None:
    return (snippets or {}).get(ticket_id)
