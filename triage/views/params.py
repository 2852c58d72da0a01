"""Numbers from query strings and forms, parsed one way everywhere.

`str.isdigit()` is true for "²" and "٣", which `int()` refuses or reads as another number, and a
5,000-digit string makes `int()` raise (Python's 4,300-digit limit) or overflows the id column. A
value that is not a plain id is treated as absent: the page answers as if it had not been sent.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

MAX_ID = 2**63 - 1  # the largest value a BIGINT id column holds


def id_param(value: object) -> int | None:
    """A database id (0 included) from a request value: ASCII digits within BIGINT, else None."""
    if not isinstance(value, str) or not value or len(value) > 19:
        return None
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def id_params(values: list[str], *, limit: int) -> list[int]:
    """The ids among `values` (the rest dropped), at most `limit` of them."""
    return [n for n in map(id_param, values) if n is not None][:limit]


def next_path(request: HttpRequest, value: object) -> str | None:
    """A `next` value that is a path on this site ("/..."), else None. A bare word must not reach
    `redirect()`, which would look it up as a URL name (NoReverseMatch, a 500)."""
    if not isinstance(value, str) or not value.startswith("/"):
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
        return None
    return value
