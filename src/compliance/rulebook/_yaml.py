"""Safe YAML with positions: plain data only, every node's line and column recorded.

Anchors, aliases (the "billion laughs" bomb) and tags are refused outright, duplicate
keys are errors, floats become `Decimal` from their source text (never via binary
floating point), and timestamps become dates. A scalar YAML would read as a timestamp but
which is no date (`2024-13-01`) stays text, so the model of the field it sits in rejects
it with the rule and field named; numbers beyond `MAX_EXPONENT` are refused here, since
turning `1e999999999` into an integer would never finish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

__all__ = ["MAX_DEPTH", "MAX_EXPONENT", "PARSERS", "Located", "YamlProblem", "load_located"]

MAX_DEPTH = 64  # nested mappings and lists; the rules need about ten
# No figure a rule file holds (a limit in barrels or dollars, a fraction, a count of
# days) is anywhere near 10**100 or 10**-100.
MAX_EXPONENT = 100

Path = tuple[object, ...]

_STANDARD = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(
    _STANDARD + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


class YamlProblem(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass
class Located:
    """Parsed data with the (line, column) of every value and every mapping key."""

    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int] | None:
        """Position of `path`, or of its nearest located ancestor."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.values.get(path[:end])
            if found:
                return found
        return None


class _Checks:
    """The composer's hooks: refuse anchors and aliases, bound the depth."""

    depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise YamlProblem(
                "anchors and aliases (&, *) are not allowed in rule files; write the data out",
                mark.line + 1,
                mark.column + 1,
            )
        # The composer recurses once per level: bound it well before Python's stack.
        if self.depth >= MAX_DEPTH:
            mark = event.start_mark
            raise YamlProblem(
                f"nested more than {MAX_DEPTH} levels deep", mark.line + 1, mark.column + 1
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        finally:
            self.depth -= 1


class _PythonLoader(_Checks, yaml.SafeLoader):
    pass


_LOADERS: dict[str, Any] = {"python": _PythonLoader}

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    # libyaml scans and parses (about 8x faster than PyYAML's pure-Python scanner, and the
    # bundled rulebook's load was half of a small log's run); PyYAML's own composer still
    # builds the nodes, so the hooks above see every event, with the same marks.
    class _LibyamlLoader(_Checks, Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _LOADERS = {"libyaml": _LibyamlLoader, **_LOADERS}

PARSERS: tuple[str, ...] = tuple(_LOADERS)
"""The YAML parsers this installation has, the one `load_located` uses by default first."""

# What PyYAML's reader accepts (yaml.reader.Reader.NON_PRINTABLE). Checked here, before
# either parser, so the position is a character's, not libyaml's byte offset.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def load_located(text: str, *, parser: Literal["libyaml", "python"] | None = None) -> Located:
    """Parse one YAML document; raises `YamlProblem` with a position.

    `parser` picks one of `PARSERS` (by default libyaml where PyYAML was built with it);
    both give the same data, positions and refusals.
    """
    bad = _NON_PRINTABLE.search(text)
    if bad:
        position = bad.start()
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        raise YamlProblem(
            f"invalid YAML: character U+{ord(bad.group()):04X} is not allowed", line, column
        )
    loader = _LOADERS[parser or PARSERS[0]](text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        # libyaml's scanner can meet its own nesting limit before the composer meets ours.
        message = (
            f"nested more than {MAX_DEPTH} levels deep"
            if "maximum nesting depth" in problem
            else f"invalid YAML: {problem}"
        )
        raise YamlProblem(
            message,
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as e:
        raise YamlProblem(f"invalid YAML: {e}", None, None) from None
    finally:
        loader.dispose()
    located = Located(None)
    located.data = _convert(root, (), located, loader) if root is not None else None
    return located


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: Node, path: Path, located: Located, loader: SafeConstructor) -> Any:
    located.values[path] = _pos(node)
    _plain_tag(node)
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlProblem("mapping keys must be plain scalars", *_pos(key_node))
            _plain_tag(key_node)  # a key's tag too: only these reach the constructor
            key = _scalar(key_node, loader)
            if isinstance(key, Decimal):
                key = str(key_node.value)
            if key in out:
                first = located.keys[(*path, key)]
                raise YamlProblem(
                    f"duplicate key {key!r} (first at line {first[0]})", *_pos(key_node)
                )
            located.keys[(*path, key)] = _pos(key_node)
            out[key] = _convert(value_node, (*path, key), located, loader)
        return out
    if isinstance(node, SequenceNode):
        return [_convert(item, (*path, i), located, loader) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return _scalar(node, loader)


def _plain_tag(node: Node) -> None:
    if node.tag not in _PLAIN_TAGS:
        raise YamlProblem(f"YAML tag {node.tag!r} is not allowed in rule files", *_pos(node))


def _scalar(node: ScalarNode, loader: SafeConstructor) -> Any:
    tag = node.tag[len(_STANDARD) :]
    if tag == "float":
        text = node.value.replace("_", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise YamlProblem(f"numbers must be finite (got {node.value!r})", *_pos(node))
        if number and abs(number.adjusted()) > MAX_EXPONENT:
            raise YamlProblem(
                f"number out of range: at most 1e{MAX_EXPONENT} and at least "
                f"1e-{MAX_EXPONENT} in magnitude (got {_short(node.value)})",
                *_pos(node),
            )
        return number
    if tag == "int" and len(node.value) > MAX_EXPONENT:
        raise YamlProblem(
            f"number out of range: at most {MAX_EXPONENT} digits (got {_short(node.value)})",
            *_pos(node),
        )
    try:
        value = loader.construct_object(node)
    except ValueError:
        if tag == "timestamp":
            return node.value  # not a date: the field's own validation says so, located
        raise YamlProblem(f"invalid {tag} {_short(node.value)}", *_pos(node)) from None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date | int | bool | str) or value is None:
        return value
    raise YamlProblem(f"unsupported YAML value {node.value!r}", *_pos(node))


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")
