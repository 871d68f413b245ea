"""Field types shared by the management API's request bodies.

Why: what a user stores must be storable and safe to show again. A name with a control
character (NUL, CR, LF …) ends up in headers, log lines and the UI; an unpaired surrogate
(JSON's "\\ud800") has no UTF-8 form, so the database driver refuses the row; an integer past
the column's 32 bits (PostgreSQL INTEGER; SQLite's driver stops at 64) fails the insert.
Each is refused here with a 422 naming the field, instead of a 500 from the database.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (NUL, CR, LF, TAB …) or unpaired surrogates")
    return value


def storable(value: str) -> str:
    """Free text (notes): line breaks are fine, NUL and unpaired surrogates are not."""
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value


NoControl = AfterValidator(no_control)
Storable = AfterValidator(storable)
Name = Annotated[str, Field(min_length=1, max_length=256), NoControl]
Label = Annotated[str, Field(min_length=1, max_length=200), NoControl]
Int32 = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]
Count32 = Annotated[int, Field(ge=0, le=INT_MAX)]
