"""Prices as Python code declares them, and the paths they cover."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Mapping, Optional, Union

Price = Union[int, float, str, Decimal]

# Python spellings of a route's fields, and the gateway's.
_fields = {
    'price': 'price',
    'price_per_token': 'pricePerToken',
    'pricePerToken': 'pricePerToken',
    'max': 'max',
    'description': 'description',
    'mime_type': 'mimeType',
    'mimeType': 'mimeType',
}


def route_spec(
    price: Optional[Price] = None,
    price_per_token: Optional[Price] = None,
    max: Optional[Price] = None,  # noqa: A002 (the seed's name)
    description: Optional[str] = None,
    mime_type: Optional[str] = None,
) -> dict:
    """The ``route`` of a ``decide`` call: ``{'price': …}`` or ``{'pricePerToken': …, 'max': …}``.

    Example:
        >>> route_spec(price=0.05)
        {'price': 0.05}
    """
    if (price is None) == (price_per_token is None):
        raise ValueError('give one of price=0.05 (per request) or price_per_token=0.00002 (metered, with max=)')
    if max is not None and price_per_token is None:
        raise ValueError('max= bounds a metered price: give it with price_per_token=, not with price=')
    spec = {'price': _money(price)} if price is not None else {'pricePerToken': _money(price_per_token)}
    if max is not None:
        spec['max'] = _money(max)
    if description is not None:
        spec['description'] = description
    if mime_type is not None:
        spec['mimeType'] = mime_type
    return spec


def route_of(value: Union[Price, Mapping[str, Any]]) -> dict:
    """A routes-table value (``0.05``, or ``{'price_per_token': …, 'max': …}``) as a route."""
    if not isinstance(value, Mapping):
        return route_spec(price=value)
    unknown = [key for key in value if key not in _fields]
    if unknown:
        fields = 'price, price_per_token, max, description, mime_type'
        raise ValueError(f'unknown route field {unknown[0]!r}: use one of {fields}')
    snake = {'pricePerToken': 'price_per_token', 'mimeType': 'mime_type'}
    return route_spec(**{snake.get(key, key): given for key, given in value.items()})


def _money(value: Price) -> Union[int, float, str]:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f'a price is dollars as a number or a string, e.g. 0.05 or "0.05", not {value!r}')
    return str(value) if isinstance(value, Decimal) else value


def gateway_pattern(method: str, rule: str) -> str:
    """A Flask rule as a 402x route pattern: ``GET /items/<int:id>`` → ``GET /items/:id``."""
    return f'{method.upper()} {_param.sub(_colon, rule)}'


_param = re.compile(r'<(?:[^:<>]+:)?([^<>]+)>')


def _colon(found: re.Match) -> str:
    return ':' + found.group(1)


class PathPattern:
    """``[METHOD ]/path`` with ``<name>`` or ``:name`` segments and a trailing ``*``, matched
    as 402x matches: case-insensitive, on the normalized path (so ``/API//x/`` is ``/api/x``)."""

    def __init__(self, source: str):
        found = re.match(r'^\s*(?:([A-Za-z]+|\*)\s+)?(/\S*)\s*$', source)
        if not found:
            raise ValueError(f'route {source!r} must look like "GET /path/<param>" or "/path/*"')
        self.source = source.strip()
        self.method = (found.group(1) or '*').upper()
        path = normalize_path(found.group(2)) or '/'
        #: As the gateway spells it (``pattern`` of ``decide``).
        self.pattern = gateway_pattern(self.method, path) if self.method != '*' else gateway_pattern('', path).strip()
        parts = []
        for segment in path.split('/'):
            if segment == '*':
                parts.append('.*')
            elif segment.startswith(':') or _param.fullmatch(segment):
                parts.append('[^/]+')
            else:
                parts.append(re.escape(segment))
        body = '/'.join(parts)
        body = body[:-3] + '(?:/.*)?' if body.endswith('/.*') else body
        self._regex = re.compile(f'^{body}$', re.IGNORECASE)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request's method and normalized path are under this pattern. As in 402x,
        ``HEAD`` is under a ``GET`` route (WSGI frameworks serve it with the ``GET`` view), and
        ``OPTIONS`` under any route of the path: the gateway answers both (402, 204), so a view
        that serves every method never runs for them unpaid."""
        method = method.upper()
        return (
            self.method in ('*', method) or (self.method == 'GET' and method == 'HEAD') or method == 'OPTIONS'
        ) and bool(self._regex.match(path))


def normalize_path(path: str) -> Optional[str]:
    """A WSGI ``PATH_INFO`` (already percent-decoded) as a router reads it: ``//`` collapsed,
    ``.`` and ``..`` resolved, backslashes as slashes, no trailing slash."""
    if not path.startswith('/'):
        return None
    out: list = []
    for segment in path.replace('\\', '/').split('/'):
        if segment in ('', '.'):
            continue
        if segment == '..':
            if out:
                out.pop()
        else:
            out.append(segment)
    return '/' + '/'.join(out)
