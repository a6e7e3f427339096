"""JSON Schema ⇄ the OpenAPI-3 subset Gemini takes in ``parameters`` and ``responseSchema``.

``clean_for_gemini`` is a pure, recursive sanitizer built on a whitelist, so whatever a client
sends, only keywords Gemini's ``Schema`` message knows come out:

- local ``$ref`` (``#/$defs/X``, ``#/definitions/X``, any JSON pointer) is inlined, siblings
  winning over the target; a cycle, an external or a dangling ref becomes
  ``{type, description: "… (See: X)"}``; nesting deeper than ``MAX_DEPTH`` is cut to ``{}``;
- ``allOf`` is merged into its parent (properties and ``required`` united, the parent's own
  keywords winning);
- ``oneOf`` is read as ``anyOf`` (Gemini has no exclusive union); ``null`` branches become
  ``nullable: true``; one branch left is merged into the parent; several stay an ``anyOf``
  (the API supports it) unless ``flatten_unions=True``, which keeps the best branch as the
  reference does (object > array > scalar) with an ``Accepts: a | b`` hint;
- a type list (``["string", "null"]``) becomes one type plus ``nullable``; several non-null types
  keep the first with an ``Accepts:`` hint; types are lower-case (the REST API takes both cases);
- ``const`` becomes ``enum: [const]``; enum values are stringified and the type forced to
  ``string`` (Gemini enums are string-only); an all-boolean enum becomes ``type: boolean``;
- ``format`` survives only where Gemini accepts it (string: enum, date-time; integer: int32,
  int64; number: float, double); ``exclusiveMinimum``/``exclusiveMaximum`` become inclusive
  bounds; ``default`` becomes a ``Default: …`` hint;
- ``required`` and ``propertyOrdering`` are filtered to existing properties; an empty
  ``properties`` map is dropped (Gemini rejects empty OBJECT properties); an array without
  ``items`` gets ``{"type": "string"}`` items (Gemini rejects it otherwise);
- everything else (``$schema``, ``$id``, ``$comment``, ``additionalProperties``, ``strict``,
  ``examples``, ``patternProperties``, ``unevaluatedProperties``, ``propertyNames``,
  ``if``/``then``/``else``, ``dependentSchemas``, ``not``, ``x-*``, …) is dropped.

``to_json_schema`` goes the other way for what clients send in ``parameters``/``responseSchema``
(upper-case ``"STRING"`` types, ``nullable``): lower-case types, ``nullable`` → a type list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, TypeGuard

import orjson

MAX_DEPTH: Final = 32

FORBIDDEN: Final = frozenset({
    "$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$vocabulary",
    "definitions", "additionalProperties", "strict", "examples", "default", "const", "oneOf",
    "allOf", "not", "patternProperties", "unevaluatedProperties", "unevaluatedItems",
    "propertyNames", "if", "then", "else", "dependentSchemas", "dependentRequired",
    "dependencies", "prefixItems", "contains", "minContains", "maxContains", "uniqueItems",
    "multipleOf", "exclusiveMinimum", "exclusiveMaximum", "contentEncoding", "contentMediaType",
    "contentSchema", "additionalItems", "readOnly", "writeOnly", "deprecated",
})
"""Keywords Gemini's ``parameters`` schema rejects (the tests check none survives)."""

_FORMATS: Final[dict[str, frozenset[str]]] = {
    "string": frozenset({"enum", "date-time"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array", "object"})
_COUNTS: Final = ("minItems", "maxItems", "minProperties", "maxProperties", "minLength",
                  "maxLength")
_RANK: Final = {"object": 3, "array": 2}

# Keywords holding sub-schemas, by shape, for walking a schema without touching property names.
_MAP_KEYWORDS: Final = ("properties", "patternProperties", "$defs", "definitions",
                        "dependentSchemas")
_LIST_KEYWORDS: Final = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONE_KEYWORDS: Final = ("items", "additionalProperties", "not", "if", "then", "else",
                        "contains", "propertyNames", "unevaluatedProperties",
                        "unevaluatedItems", "additionalItems", "contentSchema")


def clean_for_gemini(schema: Mapping[str, Any], *, flatten_unions: bool = False) -> dict[str, Any]:
    """``schema`` (JSON Schema, possibly OpenAPI-flavoured) as a Gemini ``Schema`` object."""
    if not isinstance(schema, Mapping):
        return {}
    return _Cleaner(schema, flatten_unions).clean(schema, 0, ())


def to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI-subset schema (``"STRING"``, ``nullable``) as plain JSON Schema."""
    if not isinstance(schema, Mapping):
        return {}
    return _to_json(schema, 0)


# --- JSON Schema → Gemini -------------------------------------------------------------------------


class _Cleaner:
    __slots__ = ("flatten", "root")

    def __init__(self, root: Mapping[str, Any], flatten: bool) -> None:
        self.root = root
        self.flatten = flatten

    def clean(self, node: Any, depth: int, active: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(node, Mapping) or depth > MAX_DEPTH:
            return {}
        node, active = self._deref(node, active)
        if "allOf" in node:
            node = self._merge_all_of(node, active)
        types, nullable = _types(node)
        out: dict[str, Any] = {}
        hints: list[str] = []
        if len(types) > 1:
            hints.append("Accepts: " + " | ".join(types))
        if types:
            out["type"] = types[0]
        nullable = _enum(node, out) or nullable
        self._children(node, out, depth, active)
        nullable = self._union(node, out, hints, depth, active) or nullable
        _scalars(node, out, hints)
        _finish(node, out, nullable, hints)
        return out

    def _deref(self, node: Mapping[str, Any], active: tuple[str, ...]
               ) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        for _ in range(MAX_DEPTH):
            ref = node.get("$ref")
            if not isinstance(ref, str):
                return node, active
            target = _pointer(self.root, ref) if ref not in active else None
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if not isinstance(target, Mapping):
                return _ref_fallback(siblings, ref, self.root), active
            node = {**target, **siblings}
            active = (*active, ref)
        return {}, active

    def _merge_all_of(self, node: Mapping[str, Any], active: tuple[str, ...]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        subs = node.get("allOf")
        for sub in subs if isinstance(subs, list) else ():
            if not isinstance(sub, Mapping):
                continue
            sub, _ = self._deref(sub, active)
            for key, value in sub.items():
                if key == "properties" and isinstance(value, Mapping):
                    own = merged.get("properties")
                    merged["properties"] = {**value, **(own if isinstance(own, Mapping) else {})}
                elif key == "required" and isinstance(value, list):
                    own_req = merged.get("required")
                    merged["required"] = _unique([*(own_req or []), *value])
                else:
                    merged.setdefault(key, value)
        return merged

    def _children(self, node: Mapping[str, Any], out: dict[str, Any], depth: int,
                  active: tuple[str, ...]) -> None:
        props = node.get("properties")
        if isinstance(props, Mapping) and props and out.get("type", "object") == "object":
            out["properties"] = {str(name): self.clean(sub, depth + 1, active)
                                 for name, sub in props.items()}
            out.setdefault("type", "object")
        items = node.get("items")
        if isinstance(items, list):
            items = items[0] if items else None
        if items is None and isinstance(node.get("prefixItems"), list) and node["prefixItems"]:
            items = node["prefixItems"][0]
        if isinstance(items, Mapping) and out.get("type", "array") == "array":
            out["items"] = self.clean(items, depth + 1, active)
            out.setdefault("type", "array")
        if out.get("type") == "array" and not out.get("items"):
            out["items"] = {"type": "string"}

    def _union(self, node: Mapping[str, Any], out: dict[str, Any], hints: list[str], depth: int,
               active: tuple[str, ...]) -> bool:
        """Fold ``anyOf``/``oneOf`` into ``out``; True when one branch was ``null``."""
        raw = [*_list(node.get("anyOf")), *_list(node.get("oneOf"))]
        nullable = any(_is_null(b) for b in raw)
        branches = [self.clean(b, depth + 1, active) for b in raw if not _is_null(b)]
        if not branches or any(not b for b in branches):
            return nullable  # an unconstrained branch makes the whole union unconstrained
        if len(branches) > 1 and self.flatten:
            hints.append("Accepts: " + " | ".join(str(b.get("type", "any")) for b in branches))
            branches = [max(branches, key=lambda b: _RANK.get(str(b.get("type")), 1))]
        if len(branches) > 1:
            for key in ("type", "enum", "format", "properties", "required", "items"):
                out.pop(key, None)
            out["anyOf"] = branches
            return nullable
        branch = branches[0]
        nullable = bool(branch.pop("nullable", False)) or nullable
        for key, value in branch.items():
            if key in ("description", "title") and isinstance(node.get(key), str):
                continue
            if key == "properties" and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            elif key == "required" and isinstance(out.get(key), list):
                out[key] = _unique([*out[key], *value])
            else:
                out[key] = value
        return nullable


def _types(node: Mapping[str, Any]) -> tuple[list[str], bool]:
    raw = node.get("type")
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    lowered = [n.lower() for n in names if isinstance(n, str)]
    types = _unique([t for t in lowered if t in _TYPES])
    nullable = "null" in lowered or node.get("nullable") is True
    if not types and "null" in lowered:
        types = ["string"]
    return types, nullable


def _enum(node: Mapping[str, Any], out: dict[str, Any]) -> bool:
    """A string ``enum`` (or ``boolean`` type) from ``enum``/``const``; True if null allowed."""
    values = node["enum"] if isinstance(node.get("enum"), list) else None
    if values is None and "const" in node:
        values = [node["const"]]
    if values is None:
        return False
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        out["type"] = "boolean"
    elif present:
        out["type"] = "string"
        out["enum"] = _unique([_enum_text(v) for v in present])
    return len(present) < len(values)


def _scalars(node: Mapping[str, Any], out: dict[str, Any], hints: list[str]) -> None:
    for key in ("title", "description", "pattern"):
        if isinstance(node.get(key), str) and key not in out:
            out[key] = node[key]
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(str(out.get("type")), ()):
        out["format"] = fmt
    for key in _COUNTS:
        value = node.get(key)
        if _is_number(value) and value >= 0 and float(value).is_integer():
            out[key] = int(value)
    _bounds(node, out)
    if "default" in node and node["default"] is not None:
        hints.append("Default: " + _json(node["default"]))


def _bounds(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    if out.get("type") not in (None, "integer", "number"):
        return
    integer = out.get("type") == "integer"
    for inclusive, exclusive, step, pick in (("minimum", "exclusiveMinimum", 1, max),
                                             ("maximum", "exclusiveMaximum", -1, min)):
        bound = node.get(inclusive)
        if _is_number(bound):
            out[inclusive] = bound
        strict = node.get(exclusive)
        if not _is_number(strict):
            continue
        if integer:
            strict = math.floor(strict) + 1 if step > 0 else math.ceil(strict) - 1
        out[inclusive] = pick(out[inclusive], strict) if inclusive in out else strict


def _finish(node: Mapping[str, Any], out: dict[str, Any], nullable: bool,
            hints: list[str]) -> None:
    if nullable:
        out["nullable"] = True
    props = out.get("properties")
    for key in ("required", "propertyOrdering"):
        names = _unique([*_list(out.pop(key, None)), *_list(node.get(key))])
        kept = [n for n in names if isinstance(n, str) and isinstance(props, Mapping)
                and n in props]
        if kept:
            out[key] = kept
    if hints:
        text = "; ".join(hints)
        base = out.get("description")
        out["description"] = f"{base} ({text})" if base else text


def _is_null(branch: Any) -> bool:
    if not isinstance(branch, Mapping):
        return False
    kind = branch.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else [None]
    return all(isinstance(k, str) and k.lower() == "null" for k in kinds)


def _ref_fallback(siblings: Mapping[str, Any], ref: str, root: Mapping[str, Any]
                  ) -> dict[str, Any]:
    target = _pointer(root, ref)
    kind = target.get("type") if isinstance(target, Mapping) else None
    name = ref.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") or ref
    desc = siblings.get("description")
    hint = f"See: {name}"
    out: dict[str, Any] = {k: v for k, v in siblings.items() if k != "description"}
    out.setdefault("type", kind if isinstance(kind, str) and kind != "null" else "object")
    out["description"] = f"{desc} ({hint})" if isinstance(desc, str) and desc else hint
    return out


def _pointer(root: Any, ref: str) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _enum_text(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


# --- OpenAPI subset → JSON Schema -----------------------------------------------------------------


def _to_json(node: Mapping[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if depth <= MAX_DEPTH and key in _MAP_KEYWORDS and isinstance(value, Mapping):
            out[key] = {name: _to_json(sub, depth + 1) if isinstance(sub, Mapping) else sub
                        for name, sub in value.items()}
        elif depth <= MAX_DEPTH and key in _LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_to_json(sub, depth + 1) if isinstance(sub, Mapping) else sub
                        for sub in value]
        elif depth <= MAX_DEPTH and key in _ONE_KEYWORDS and isinstance(value, Mapping):
            out[key] = _to_json(value, depth + 1)
        elif key == "type":
            out[key] = _lower_type(value)
        elif not (key == "format" and value == "enum"):
            out[key] = value
    if out.pop("nullable", None) is True:
        kind = out.get("type")
        if isinstance(kind, str) and kind != "null":
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
    return out


def _lower_type(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [v.lower() if isinstance(v, str) else v for v in value]
    return value
