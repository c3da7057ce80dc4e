"""The body of a product import, JSON lines or CSV, as validated rows: all of them or a 422 naming lines."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pydantic
from fastapi.exceptions import RequestValidationError

from .._errors import ValidationError
from ._models import ProductCreate, product_row

IMPORT_TYPES = ("application/x-ndjson", "application/jsonl", "text/csv")
MAX_ERRORS = 20  # a file of bad lines answers with the first ones


def parse_import(body: bytes, kind: str) -> list[dict[str, Any]]:
    """The rows of a `kind` ("csv" or "jsonl") body, ready to upsert (an id made up where none is given).

    Blocking (a 50 MB body takes seconds): run it in a thread.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(
            ["body"], f"not UTF-8 text: {exc.reason} at byte {exc.start}", "unicode_error"
        ) from None
    items = _csv_items(text) if kind == "csv" else _json_items(text)
    rows, errors, seen = [], [], {}
    for number, item in items:
        try:
            row = product_row(ProductCreate.model_validate(item))
        except pydantic.ValidationError as exc:
            errors += [{**e, "loc": ["body", f"line {number}", *e["loc"]]} for e in exc.errors()]
            continue
        if row["id"] in seen:  # all or none: two rows for one id would leave one of them unwritten
            message = f"the id {row['id']!r} is on line {seen[row['id']]} too"
            errors.append({"loc": ["body", f"line {number}", "id"], "msg": message, "type": "value_error"})
        seen.setdefault(row["id"], number)
        rows.append(row)
    if errors:
        raise RequestValidationError(errors[:MAX_ERRORS])
    if not rows:
        raise ValidationError("no products in the body")
    return rows


def _csv_items(text: str) -> list[tuple[int, dict[str, Any]]]:
    # cells beyond the header are an error naming "extra cells"; an empty cell is a missing value
    reader = csv.DictReader(io.StringIO(text), restkey="extra cells")
    try:
        return [(reader.line_num, {k: (v or None) for k, v in row.items()}) for row in reader]
    except csv.Error as exc:  # a NUL byte, a cell over the csv module's size limit
        raise _invalid(["body", f"line {reader.line_num}"], f"not CSV: {exc}", "value_error") from None


def _json_items(text: str) -> list[tuple[int, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                items.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise _invalid(["body", f"line {number}"], f"not JSON: {exc.msg}", "json_invalid") from None
            except (ValueError, RecursionError) as exc:  # an integer of thousands of digits, deep nesting
                raise _invalid(
                    ["body", f"line {number}"], f"not JSON we can read: {exc}", "json_invalid"
                ) from None
    return items


def _invalid(loc: list[str], msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])
