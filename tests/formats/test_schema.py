"""formats/schema.py: the Gemini schema sanitizer (table-driven + properties) and its inverse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types as genai
from hypothesis import given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats.schema import FORBIDDEN, MAX_DEPTH, clean_for_gemini, to_json_schema

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("meta keywords are dropped", {
        "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "$comment": "c",
        "type": "object", "additionalProperties": False, "strict": True, "examples": [{}],
        "patternProperties": {"^x": {"type": "string"}}, "unevaluatedProperties": False,
        "propertyNames": {"pattern": "^[a-z]+$"}, "if": {"required": ["a"]},
        "then": {"required": ["b"]}, "else": {}, "dependentSchemas": {"a": {}},
        "not": {"type": "null"}, "x-google-extension": 1,
        "properties": {"a": {"type": "string"}}},
     {"type": "object", "properties": {"a": {"type": "string"}}}),
    ("const becomes a one-value enum", {"const": "fixed"}, {"type": "string", "enum": ["fixed"]}),
    ("a nullable type list is one type plus nullable", {"type": ["string", "null"]},
     {"type": "string", "nullable": True}),
    ("several types keep the first, with a hint", {"type": ["integer", "string"],
                                                   "description": "n"},
     {"type": "integer", "description": "n (Accepts: integer | string)"}),
    ("upper-case OpenAPI types are lower-cased", {"type": "OBJECT", "properties": {
        "s": {"type": "STRING"}}}, {"type": "object", "properties": {"s": {"type": "string"}}}),
    ("local $ref is inlined, siblings win", {
        "type": "object", "properties": {"addr": {"$ref": "#/$defs/Address",
                                                  "description": "home"}},
        "$defs": {"Address": {"type": "object", "description": "an address",
                              "properties": {"city": {"type": "string"}}}}},
     {"type": "object", "properties": {"addr": {
         "type": "object", "description": "home", "properties": {"city": {"type": "string"}}}}}),
    ("definitions and nested pointers resolve", {
        "properties": {"v": {"$ref": "#/definitions/Wrap/properties/inner"}},
        "definitions": {"Wrap": {"properties": {"inner": {"type": "integer"}}}}},
     {"type": "object", "properties": {"v": {"type": "integer"}}}),
    ("a cyclic $ref stops with a hint", {
        "$ref": "#/$defs/Node", "$defs": {"Node": {"type": "object", "properties": {
            "next": {"$ref": "#/$defs/Node"}}}}},
     {"type": "object", "properties": {"next": {"type": "object", "description": "See: Node"}}}),
    ("an external $ref becomes a hint", {"$ref": "https://example.org/s.json#/Thing"},
     {"type": "object", "description": "See: Thing"}),
    ("allOf is merged into the parent", {
        "type": "object", "description": "parent",
        "allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
                  {"properties": {"b": {"type": "integer"}}, "required": ["b"],
                   "description": "child"}]},
     {"type": "object", "description": "parent", "required": ["a", "b"],
      "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
    ("anyOf with null is the other branch, nullable", {
        "anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "description": "d"},
     {"type": "string", "maxLength": 5, "nullable": True, "description": "d"}),
    ("oneOf is read as anyOf", {"oneOf": [{"type": "string"}, {"type": "integer"}]},
     {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
    ("anyOf with an unconstrained branch is dropped", {
        "type": "object", "properties": {"a": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
     {"type": "object", "properties": {"a": {"type": "string"}}}),
    ("required keeps only existing properties", {
        "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b", 3]},
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
    ("required without properties is dropped", {"type": "object", "required": ["a"]},
     {"type": "object"}),
    ("numeric enums become strings", {"type": "integer", "enum": [1, 2, 3]},
     {"type": "string", "enum": ["1", "2", "3"]}),
    ("a null enum value makes the schema nullable", {"enum": ["a", None]},
     {"type": "string", "enum": ["a"], "nullable": True}),
    ("boolean enums become a boolean type", {"enum": [True, False]}, {"type": "boolean"}),
    ("supported formats stay", {"type": "object", "properties": {
        "when": {"type": "string", "format": "date-time"},
        "n": {"type": "integer", "format": "int64"}, "x": {"type": "number", "format": "float"},
        "uri": {"type": "string", "format": "uri"}, "e": {"type": "string", "format": "email"}}},
     {"type": "object", "properties": {
         "when": {"type": "string", "format": "date-time"},
         "n": {"type": "integer", "format": "int64"}, "x": {"type": "number", "format": "float"},
         "uri": {"type": "string"}, "e": {"type": "string"}}}),
    ("exclusive integer bounds become inclusive", {
        "type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "minimum": -5},
     {"type": "integer", "minimum": 1, "maximum": 9}),
    ("exclusive number bounds are approximated", {"type": "number", "exclusiveMinimum": 0.5},
     {"type": "number", "minimum": 0.5}),
    ("an array without items gets string items", {"type": "array", "minItems": 1},
     {"type": "array", "items": {"type": "string"}, "minItems": 1}),
    ("tuple items keep the first schema", {"type": "array", "items": [{"type": "integer"},
                                                                      {"type": "string"}]},
     {"type": "array", "items": {"type": "integer"}}),
    ("prefixItems stand in for items", {"type": "array", "prefixItems": [{"type": "boolean"}]},
     {"type": "array", "items": {"type": "boolean"}}),
    ("empty properties are dropped", {"type": "object", "properties": {}}, {"type": "object"}),
    ("keyword-named properties are properties", {"type": "object", "properties": {
        "type": {"type": "string"}, "$ref": {"type": "string"}, "default": {"type": "integer"}},
        "required": ["type", "$ref"]},
     {"type": "object", "required": ["type", "$ref"], "properties": {
         "type": {"type": "string"}, "$ref": {"type": "string"}, "default": {"type": "integer"}}}),
    ("default becomes a hint", {"type": "integer", "default": 60, "description": "timeout"},
     {"type": "integer", "description": "timeout (Default: 60)"}),
    ("a boolean sub-schema is unconstrained", {"type": "object", "properties": {"any": True}},
     {"type": "object", "properties": {"any": {}}}),
    ("type is inferred from properties, items and enum", {"properties": {
        "l": {"items": {"type": "string"}}, "e": {"enum": ["x"]}}},
     {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"}},
                                       "e": {"type": "string", "enum": ["x"]}}}),
    ("propertyOrdering is filtered", {"type": "object", "properties": {"a": {"type": "string"}},
                                      "propertyOrdering": ["a", "zz"]},
     {"type": "object", "properties": {"a": {"type": "string"}}, "propertyOrdering": ["a"]}),
    ("bad value types are ignored", {"type": 5, "description": 3, "minLength": "2",
                                     "maxLength": -1, "minimum": True, "pattern": None},
     {}),
]


@pytest.mark.parametrize(("schema", "expected"), [(s, e) for _, s, e in CASES],
                         ids=[name for name, _, _ in CASES])
def test_clean_for_gemini(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    cleaned = clean_for_gemini(schema)
    assert cleaned == expected
    genai.Schema.model_validate(cleaned)
    assert clean_for_gemini(cleaned) == cleaned


def test_flatten_unions_keeps_the_best_branch() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "object", "properties": {
        "a": {"type": "integer"}}}, {"type": "array", "items": {"type": "string"}}]}
    assert clean_for_gemini(schema, flatten_unions=True) == {
        "type": "object", "properties": {"a": {"type": "integer"}},
        "description": "Accepts: string | object | array"}


def test_deep_nesting_is_cut_not_crashed() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(500):
        schema = {"type": "object", "properties": {"x": schema}}
    cleaned = clean_for_gemini(schema)
    depth = 0
    while cleaned.get("properties"):
        cleaned = cleaned["properties"]["x"]
        depth += 1
    assert depth <= MAX_DEPTH + 1


def test_ref_chains_and_self_reference_terminate() -> None:
    chain = {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"},
                                            "b": {"$ref": "#/$defs/a"}}}
    assert clean_for_gemini(chain)["type"] == "object"
    assert clean_for_gemini({"$ref": "#"})["description"] == "See: #"


def test_non_mappings_clean_to_empty() -> None:
    assert clean_for_gemini(None) == {}  # type: ignore[arg-type]
    assert clean_for_gemini([]) == {}  # type: ignore[arg-type]
    assert to_json_schema("x") == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "OBJECT", "properties": {"a": {"type": "STRING", "nullable": True},
                                       "type": {"type": "INTEGER"}}},
     {"type": "object", "properties": {"a": {"type": ["string", "null"]},
                                       "type": {"type": "integer"}}}),
    ({"type": "ARRAY", "items": {"type": "STRING", "format": "enum", "enum": ["A"]}},
     {"type": "array", "items": {"type": "string", "enum": ["A"]}}),
    ({"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}], "nullable": False},
     {"anyOf": [{"type": "number"}, {"type": "boolean"}]}),
    ({"type": ["STRING", "INTEGER"], "nullable": True},
     {"type": ["string", "integer", "null"]}),
    ({"nullable": True, "description": "untyped"}, {"description": "untyped"}),
])
def test_to_json_schema(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert to_json_schema(schema) == expected


# --- properties ----------------------------------------------------------------------------------

_keys = st.sampled_from(sorted(FORBIDDEN | {
    "type", "properties", "items", "required", "enum", "description", "title", "format",
    "nullable", "anyOf", "minimum", "maximum", "minLength", "maxItems", "pattern",
    "propertyOrdering", "x-extra"}))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True),
                     st.text(max_size=5),
                     st.sampled_from(["string", "null", "OBJECT", "integer", "array", "number",
                                      "date-time", "#/$defs/a", "#/definitions/b", "#", "#/x/0"]))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(_keys, st.sampled_from(["a", "b"])), inner,
                                            max_size=4)),
    max_leaves=25,
)
_schemas = st.dictionaries(_keys, _json, max_size=6)


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for sub in (node.get("properties") or {}).values():
        yield from _schema_nodes(sub)
    yield from _schema_nodes(node.get("items"))
    for branch in node.get("anyOf") or ():
        yield from _schema_nodes(branch)


@settings(max_examples=100, deadline=None)
@given(_schemas)
def test_any_schema_cleans_into_a_gemini_schema(schema: dict[str, Any]) -> None:
    cleaned = clean_for_gemini(schema)
    for node in _schema_nodes(cleaned):
        forbidden = set(node) & FORBIDDEN
        assert not forbidden, f"{forbidden} survived in {node}"
        assert not any(key.startswith("x-") for key in node)
    genai.Schema.model_validate(cleaned)
    assert clean_for_gemini(cleaned) == cleaned


@settings(max_examples=60, deadline=None)
@given(_schemas)
def test_to_json_schema_never_crashes_and_keeps_no_nullable(schema: dict[str, Any]) -> None:
    converted = to_json_schema(schema)
    assert "nullable" not in converted
    clean_for_gemini(converted)
