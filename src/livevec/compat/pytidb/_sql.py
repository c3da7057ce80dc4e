"""pytidb's placeholders in raw SQL, rewritten into the store's own.

pytidb's SQL is SQLAlchemy text: `:name` with a dict of parameters. Code written for its MySQL driver
also uses `%s` with a tuple (the tutorial does). Either becomes `?`/`:name` on SQLite and
`%s`/`%(name)s` on PostgreSQL; quoted text, quoted names and comments are left as they are.

    native("DELETE FROM products WHERE id = %s", (7,), "sqlite")  ->  ("... WHERE id = ?", [7])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from ..._errors import ValidationError

Dialect = Literal["sqlite", "postgres"]

_TOKENS = re.compile(
    r"""
      (?P<quoted> '(?:[^']|'')*' | "(?:[^"]|"")*" | `[^`]*` | --[^\n]* | /\*.*?\*/ )
    | (?P<cast> :: )                        # PostgreSQL's cast, not a parameter
    | %\((?P<percent_name>\w+)\)s | (?P<percent> %s )
    | (?<![\w:]) :(?P<colon_name>[A-Za-z_]\w*)
    | (?P<literal_percent> % )
    """,
    re.VERBOSE | re.DOTALL,
)


def native(sql: str, params: Any, dialect: Dialect) -> tuple[str, Any]:
    """`sql` with its placeholders in `dialect`'s style, and `params` in the shape that style needs."""
    if params is None:  # no placeholders to fill: the statement goes as written
        return sql, None
    named = isinstance(params, Mapping)
    styles: set[str] = set()

    def rewrite(match: re.Match) -> str:
        text = match.group()
        if match["quoted"] or match["cast"] or match["literal_percent"]:
            # psycopg reads % anywhere in a statement that has parameters: a literal one is doubled
            return text.replace("%", "%%") if dialect == "postgres" else text
        name = match["percent_name"] or match["colon_name"]
        styles.add("named" if name else "positional")
        if name:
            return f":{name}" if dialect == "sqlite" else f"%({name})s"
        return "?" if dialect == "sqlite" else "%s"

    rewritten = _TOKENS.sub(rewrite, sql)
    if len(styles) > 1:
        raise ValidationError("the SQL mixes named and positional placeholders", field="sql")
    if styles == {"named"} and not named:
        raise ValidationError("the SQL has named placeholders (:name): give a dict", field="params")
    if styles == {"positional"} and named:
        raise ValidationError(
            "the SQL has positional placeholders (%s): give a list or tuple", field="params"
        )
    return rewritten, params
