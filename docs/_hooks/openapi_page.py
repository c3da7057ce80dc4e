"""The HTTP API reference as Markdown, rendered from the shop's OpenAPI document (no JavaScript, no CDN)."""

from __future__ import annotations

from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    """A short reading of a JSON schema: `integer`, `string | null`, `[ProductOut](#productout)`..."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " | ".join(type_of(part) for part in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(
            f"`{value!r}`" if isinstance(value, str) else f"`{value}`" for value in schema["enum"]
        )
    if schema.get("type") == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return f"object of {type_of(extra) if isinstance(extra, dict) else 'any'}"
    return str(schema.get("type", "any"))


def _bounds(schema: dict[str, Any]) -> str:
    parts = [schema, *schema.get("anyOf", [])]
    found = []
    for part in parts:
        for key, word in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
        ):
            if key in part:
                found.append(f"{word} {part[key]}")
    if "default" in schema:
        found.append(f"default `{schema['default']!r}`")
    return ", ".join(found)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if op.get("description") or op.get("summary"):
        lines += [op.get("description") or op["summary"], ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | bounds, default |", "|---|---|---|---|---|"]
        for param in params:
            schema = param.get("schema", {})
            required = "yes" if param.get("required") else ""
            lines.append(
                f"| `{param['name']}` | {param['in']} | {_cell(type_of(schema))} | {required} | {_cell(_bounds(schema))} |"
            )
        lines.append("")
    body = op.get("requestBody")
    if body:
        kinds = ", ".join(
            f"`{media}`" + (f" ({type_of(spec['schema'])})" if "schema" in spec else "")
            for media, spec in body.get("content", {}).items()
        )
        lines += [f"Body: {kinds}", ""]
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {})
        shapes = ", ".join(type_of(spec["schema"]) for spec in content.values() if "schema" in spec)
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | {_cell(shapes)} |")
    lines.append("")
    return lines


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        lines += ["| field | type | required | bounds, default |", "|---|---|---|---|"]
        for field, spec in properties.items():
            lines.append(
                f"| `{field}` | {_cell(type_of(spec))} | {'yes' if field in required else ''} | {_cell(_bounds(spec))} |"
            )
        lines.append("")
    return lines


def render(spec: dict[str, Any]) -> str:
    """The whole page: each route (grouped by tag, in the document's order), then each schema."""
    info = spec.get("info", {})
    lines = [
        "# HTTP API",
        "",
        f"{info.get('title', '')} {info.get('version', '')}: {info.get('summary', info.get('description', ''))}",
        "",
        "This page is generated from the app's OpenAPI document when the site is built "
        "(`livevec.web.create_app(...).openapi()`). A running shop serves the same document at "
        "`/openapi.json` and an interactive page at `/docs`. Who may call what, and the limits, are in "
        "[Running it for real](../guides/production.md).",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    for tag, operations in by_tag.items():
        lines += [f"## {tag.capitalize()}", ""]
        for path, method, op in operations:
            lines += _operation(path, method, op)
    lines += ["## Schemas", ""]
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        lines += _schema(name, schema)
    return "\n".join(lines) + "\n"
