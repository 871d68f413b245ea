"""mitmproxy's type check of each HTTP message, without the garbage it leaves behind.

Unless Python runs with ``-O``, mitmproxy checks the field types of every request and response
it builds (``MessageData.__post_init__`` calls ``typecheck.check_option_type`` per field). For
an optional field that holds None, as the trailers of nearly every message do, that check
tries the other type first: it raises a TypeError and catches it, and the exception's traceback
holds the frame that holds the exception. Each such reference cycle lives until the garbage
collector finds it, and a proxied call left a few of them: the collector stopped the event
loop that carries every agent's calls several times as often, full collections included
(`tests/unit/test_message_check.py` counts the cycles; BENCHMARKS.md has the collections).

`install` puts a check in its place that accepts and refuses the same values: each field's
declared type, read from the dataclass as mitmproxy's check reads it, tested with
``isinstance``. Only a value it would refuse goes to mitmproxy's own check, which raises
mitmproxy's own error. Under ``-O`` mitmproxy defines no check, and none is added.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from mitmproxy import http
from mitmproxy.utils import typecheck

# mitmproxy's own check, as imported (None under -O).
MITMPROXY_CHECK = getattr(http.MessageData, "__post_init__", None)


def _classes(declared: Any) -> tuple[type, ...] | None:
    """The classes ``declared`` admits as `check_option_type` reads it, or None if it is
    not made of plain classes (a float field also takes an int, as there)."""
    members = typing.get_args(declared) if typing.get_origin(declared) in (typing.Union, types.UnionType) else (declared,)
    if not all(isinstance(member, type) and typing.get_origin(member) is None for member in members):
        return None
    return tuple(members) + ((int,) if float in members else ())


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, tuple[type, ...] | None], ...]:
    """Per message class: each field's name, declared type, and the classes it accepts (None
    where the declared type is more than plain classes and their unions: mitmproxy's check decides)."""
    return tuple((field.name, field.type, _classes(field.type)) for field in dataclasses.fields(cls))


def _post_init(self: http.MessageData) -> None:
    for name, declared, classes in _fields(type(self)):
        value = getattr(self, name)
        if classes is None or not isinstance(value, classes):
            typecheck.check_option_type(name, value, declared)  # raises mitmproxy's TypeError, or accepts


def install() -> None:
    """Use the check above for every message mitmproxy builds from now on (idempotent)."""
    if MITMPROXY_CHECK is not None:  # absent under -O
        http.MessageData.__post_init__ = _post_init  # type: ignore[method-assign]
