"""A small OData `$filter` reader: tokenizer, recursive-descent parser, and a compiler that turns
the parsed expression into a predicate over one collection's records.

Only what Microsoft Graph accepts on the endpoints we emulate: comparisons of a property with a
literal (`eq ne gt ge lt le`), `and` / `or`, parentheses, `startswith(prop, 'x')`, and a lambda
`any` over a collection of strings (`signInEventTypes/any(t: t eq 'nonInteractiveUser')`).
Anything else is refused with a `FilterError`, which the server answers with Graph's 400: a filter
is never silently dropped, so `x' or 1 eq 1` cannot widen a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Predicate = Callable[[Any], bool]
Kind = Literal["string", "int", "datetime", "bool", "strings"]

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
KEYWORDS = COMPARISONS | {"and", "or", "not", "true", "false", "null"}
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})"
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PUNCT = "()/,:"


class FilterError(ValueError):
    """The filter cannot be read, or asks for something the endpoint does not support."""

    def __init__(self, message: str, *, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Token:
    kind: Literal["ident", "string", "number", "datetime", "punct", "end"]
    text: str
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            value, end = _read_string(text, i)
            tokens.append(Token("string", text[i:end], value, i))
            i = end
        elif ch in _PUNCT:
            tokens.append(Token("punct", ch, ch, i))
            i += 1
        elif m := _DATETIME.match(text, i):
            tokens.append(Token("datetime", m.group(), _parse_datetime(m.group(), i), i))
            i = m.end()
        elif m := _NUMBER.match(text, i):
            raw = m.group()
            tokens.append(Token("number", raw, float(raw) if "." in raw else int(raw), i))
            i = m.end()
        elif m := _IDENT.match(text, i):
            tokens.append(Token("ident", m.group(), m.group(), i))
            i = m.end()
        else:
            raise FilterError(f"Invalid filter clause: unexpected character '{ch}' at position "
                              f"{i}.")
    tokens.append(Token("end", "", None, n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """An OData string literal starting at the quote; '' stands for one embedded quote."""
    parts: list[str] = []
    i = start + 1
    while True:
        end = text.find("'", i)
        if end < 0:
            raise FilterError(f"Invalid filter clause: unterminated string literal at position "
                              f"{start}.")
        parts.append(text[i:end])
        if text.startswith("''", end):
            parts.append("'")
            i = end + 2
        else:
            return "".join(parts), end + 1


def _parse_datetime(raw: str, pos: int) -> float:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise FilterError(f"Invalid filter clause: malformed datetime '{raw}' at position "
                          f"{pos}.") from exc


# --- syntax tree -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Compare:
    path: tuple[str, ...]
    op: str
    value: Any
    literal: Token


@dataclass(frozen=True, slots=True)
class StartsWith:
    path: tuple[str, ...]
    prefix: str


@dataclass(frozen=True, slots=True)
class Junction:
    op: Literal["and", "or"]
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """`collection/any(var: inner)`; inside `inner`, paths start with `var`."""

    path: tuple[str, ...]
    var: str
    inner: Node


Node = Compare | StartsWith | Junction | AnyOf


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.lambda_var: str | None = None

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() == word

    def expect_punct(self, ch: str) -> None:
        if self.tok.kind != "punct" or self.tok.text != ch:
            raise self.error(f"expected '{ch}'")
        self.i += 1

    def error(self, what: str) -> FilterError:
        found = self.tok.text or "end of filter"
        return FilterError(f"Invalid filter clause: {what}, found '{found}' at position "
                           f"{self.tok.pos}.")

    def parse(self) -> Node:
        node = self.parse_or()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the filter")
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.is_word("or"):
            self.i += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_primary()]
        while self.is_word("and"):
            self.i += 1
            parts.append(self.parse_primary())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def parse_primary(self) -> Node:
        tok = self.tok
        if tok.kind == "punct" and tok.text == "(":
            self.i += 1
            node = self.parse_or()
            self.expect_punct(")")
            return node
        if tok.kind != "ident" or tok.text.lower() in KEYWORDS:
            if self.is_word("not"):
                raise FilterError("Invalid filter clause: 'not' is not supported.",
                                  code="Request_UnsupportedQuery")
            raise self.error("expected a property name")
        if tok.text.lower() == "startswith" and self.tokens[self.i + 1].text == "(":
            return self.parse_startswith()
        path = self.parse_path()
        if isinstance(path, AnyOf):
            return path
        op = self.take()
        if op.kind != "ident" or op.text.lower() not in COMPARISONS:
            self.i -= 1
            raise self.error(f"expected a comparison operator after '{'/'.join(path)}'")
        literal = self.take()
        if literal.kind not in ("string", "number", "datetime") and not (
            literal.kind == "ident" and literal.text.lower() in ("true", "false", "null")
        ):
            self.i -= 1
            raise self.error(f"expected a literal after '{op.text}'")
        return Compare(path, op.text.lower(), _literal_value(literal), literal)

    def parse_path(self) -> tuple[str, ...] | AnyOf:
        names = [self.take().text]
        while self.tok.kind == "punct" and self.tok.text == "/":
            self.i += 1
            name_tok = self.take()
            if name_tok.kind != "ident":
                self.i -= 1
                raise self.error("expected a property name after '/'")
            name = name_tok.text
            if name.lower() in ("any", "all"):
                return self.parse_lambda(tuple(names), name.lower())
            names.append(name)
        return tuple(names)

    def parse_lambda(self, path: tuple[str, ...], kind: str) -> AnyOf:
        if kind == "all" or self.lambda_var is not None:
            raise FilterError(f"Invalid filter clause: '{kind}' lambda is not supported here.",
                              code="Request_UnsupportedQuery")
        self.expect_punct("(")
        if self.tok.kind != "ident" or self.tok.text.lower() in KEYWORDS:
            raise self.error("expected a lambda variable")
        var = self.take().text
        self.expect_punct(":")
        self.lambda_var = var
        inner = self.parse_or()
        self.lambda_var = None
        self.expect_punct(")")
        return AnyOf(path, var, inner)

    def parse_startswith(self) -> StartsWith:
        self.i += 1
        self.expect_punct("(")
        if self.tok.kind != "ident":
            raise self.error("expected a property name in startswith")
        path = self.parse_path()
        if isinstance(path, AnyOf):
            raise self.error("expected a property name in startswith")
        self.expect_punct(",")
        prefix = self.take()
        if prefix.kind != "string":
            self.i -= 1
            raise self.error("expected a string literal in startswith")
        self.expect_punct(")")
        return StartsWith(path, prefix.value)


def _literal_value(tok: Token) -> Any:
    if tok.kind == "ident":
        return {"true": True, "false": False, "null": None}[tok.text.lower()]
    return tok.value


def parse_filter(text: str) -> Node:
    """The syntax tree of a `$filter` value; raises FilterError on anything malformed."""
    if not text.strip():
        raise FilterError("Invalid filter clause: the filter is empty.")
    return _Parser(text).parse()


# --- compiling against a collection's properties -----------------------------------------------

@dataclass(frozen=True, slots=True)
class Field:
    """A filterable property: its kind, the operators Graph allows on it, and how to read it."""

    kind: Kind
    ops: frozenset[str]
    get: Callable[[Any], Any]


Schema = dict[tuple[str, ...], Field]


def compile_filter(node: Node, schema: Schema, resource: str) -> Predicate:
    """A predicate over records, checking every property and operator against `schema`."""
    if isinstance(node, Junction):
        preds = [compile_filter(part, schema, resource) for part in node.parts]
        if node.op == "and":
            return lambda rec: all(p(rec) for p in preds)
        return lambda rec: any(p(rec) for p in preds)
    field = _field(node.path, schema, resource)
    if isinstance(node, AnyOf):
        return _compile_any(node, field, resource)
    if isinstance(node, StartsWith):
        _check_op(field, "startswith", node.path, resource)
        prefix = node.prefix.lower()
        get = field.get
        return lambda rec: str(get(rec) or "").lower().startswith(prefix)
    _check_op(field, node.op, node.path, resource)
    return _compare(field, node)


def _field(path: tuple[str, ...], schema: Schema, resource: str) -> Field:
    for key, field in schema.items():
        if len(key) == len(path) and all(a.lower() == b.lower() for a, b in zip(key, path,
                                                                                 strict=True)):
            return field
    raise FilterError(f"Unsupported or invalid query filter clause specified for property "
                      f"'{'/'.join(path)}' of resource '{resource}'.",
                      code="Request_UnsupportedQuery")


def _check_op(field: Field, op: str, path: tuple[str, ...], resource: str) -> None:
    if op not in field.ops:
        raise FilterError(f"Unsupported filter operator '{op}' for property '{'/'.join(path)}' "
                          f"of resource '{resource}'.", code="Request_UnsupportedQuery")


def _coerce(field: Field, node: Compare) -> Any:
    value, kind = node.value, node.literal.kind
    ok = (
        (field.kind == "string" and (kind == "string" or value is None))
        or (field.kind == "int" and kind == "number" and isinstance(value, int))
        or (field.kind == "datetime" and kind == "datetime")
        or (field.kind == "bool" and isinstance(value, bool))
    )
    if not ok:
        raise FilterError(f"Invalid filter clause: '{'/'.join(node.path)}' is {field.kind}, "
                          f"cannot compare it with {node.literal.text}.")
    return value.lower() if isinstance(value, str) else value


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b, "ge": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b, "le": lambda a, b: a is not None and a <= b,
}


def _compare(field: Field, node: Compare) -> Predicate:
    value = _coerce(field, node)
    get, test = field.get, _OPS[node.op]
    if field.kind == "string":
        def read(rec: Any) -> Any:
            got = get(rec)
            return got.lower() if isinstance(got, str) else got
        return lambda rec: test(read(rec), value)
    return lambda rec: test(get(rec), value)


def _compile_any(node: AnyOf, field: Field, resource: str) -> Predicate:
    if field.kind != "strings":
        raise FilterError(f"Invalid filter clause: '{'/'.join(node.path)}' is not a collection.")
    element = Field("string", frozenset({"eq", "ne"}), lambda value: value)
    inner = compile_filter(node.inner, {(node.var,): element}, resource)
    get = field.get
    return lambda rec: any(inner(item) for item in (get(rec) or ()))


def conjuncts(node: Node) -> list[Node]:
    """The parts of a top-level `and` (or the node itself), for planning an indexed scan."""
    if isinstance(node, Junction) and node.op == "and":
        return [leaf for part in node.parts for leaf in conjuncts(part)]
    return [node]


def mentions(node: Node, name: str) -> bool:
    """Whether a property named `name` appears anywhere in the filter."""
    if isinstance(node, Junction):
        return any(mentions(part, name) for part in node.parts)
    return node.path[0].lower() == name.lower()
