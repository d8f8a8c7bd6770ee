"""A safe YAML reader for configuration files: line numbers, no duplicate keys, no alias bombs.

:func:`parse_yaml` composes the document's node graph (libyaml's parser where installed), checks it before anything
is built, and builds plain Python values (dicts, lists, str, int, float, bool, None, dates) while recording the
line of every mapping key and list item, so that schema errors can say ``file:line``.

Refused, each with an :class:`~bold_prevention.errors.InputError` naming the file and line:

* text that is not valid YAML, more than one document, text that is not UTF-8;
* more than :data:`MAX_ALIASES` aliases (``*name``), or aliases that would expand the document by more than
  :data:`MAX_ALIAS_NODES` values (the "billion laughs" attack is refused before anything is expanded), an alias
  to the node it is inside, nesting deeper than :data:`MAX_DEPTH` levels;
* a key that appears twice in one mapping (reported with the others, not raised at once: see
  :attr:`Document.problems`), a key that is not a plain value (a list or mapping as a key), merge keys (``<<``);
* tags other than YAML's own scalar, list and mapping tags (no ``!!python/...``, ``!!binary``, ``!!set``).

Plain keys that YAML 1.1 would read as true/false/null (``on``, ``no``, ``yes``, ``off``, ``null``, ``~``) are kept
as the text written: a key names something, it is never a boolean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import InputError

#: At most this many alias uses (``*name``) in one document.
MAX_ALIASES = 50
#: Aliases may add at most this many values to the document when expanded.
MAX_ALIAS_NODES = 10_000
#: Lists and mappings nest at most this deep.
MAX_DEPTH = 100

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_T = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP, _MERGE = (
    _T + k for k in ("str", "seq", "map", "null", "bool", "int", "float", "timestamp", "merge"))
_SCALARS = {_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP}

Path = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    """One problem of a configuration file: where (``path`` of keys and list positions, and ``line``) and what."""

    line: int | None
    where: str
    message: str

    def render(self, source: str | None = None) -> str:
        at = f"{source}:{self.line}: " if source and self.line else (f"line {self.line}: " if self.line else "")
        return f"{at}{self.where}: {self.message}" if self.where else f"{at}{self.message}"


@dataclass
class Document:
    """A parsed YAML document: its ``data``, the line of each key and list item, and problems found while reading
    (duplicate keys) that are reported together with the schema's."""

    data: Any
    source: str
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """The line of ``path`` (or of the nearest enclosing key or item that has one)."""
        path = tuple(path)
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.lines.get(())


def _err(source: str, line: int | None, message: str, hint: str) -> InputError:
    at = f"{source}:{line}" if line else source
    return InputError(f"{at}: {message}", hint=hint)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def decode(raw: bytes, *, source: str) -> str:
    """UTF-8 text of a configuration file (a byte-order mark is dropped), or an InputError naming the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise _err(source, line, f"the file is not UTF-8 text (byte {e.start + 1} cannot be decoded)",
                   "save the file as UTF-8 (most editors: Save with encoding > UTF-8)") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_yaml(text: str | bytes, *, source: str = "config") -> Document:
    """Parse one YAML document safely (see the module docstring for what is refused)."""
    if isinstance(text, bytes | bytearray):
        text = decode(bytes(text), source=source)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            what = " ".join(str(x) for x in (e.context, e.problem) if x) or "the YAML syntax is broken"
            at = f" (line {mark.line + 1})" if mark else ""
            raise InputError(f"{source} is not valid YAML{at}: {what}", hint=
                             "fix the YAML syntax at the line shown (indentation, a missing colon, an unclosed quote "
                             "or bracket); quote values that contain ': ' or ' #'") from None
        except yaml.YAMLError as e:
            first = str(e).splitlines()[0] if str(e) else "unreadable"
            raise InputError(f"{source} is not valid YAML: {first}", hint="fix the YAML syntax") from None
        except RecursionError:
            raise _err(source, None, f"lists or mappings are nested more than {MAX_DEPTH} levels deep",
                       "flatten the file") from None
        except (ValueError, TypeError, OverflowError) as e:
            raise InputError(f"{source} is not valid YAML: {e}", hint="fix the YAML syntax") from None
        doc = Document(data=None, source=source)
        if node is None:
            return doc
        _check_graph(node, source)
        doc.lines[()] = _line(node)
        doc.data = _Builder(loader, doc).build(node, (), 0)
        return doc
    finally:
        loader.dispose()


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for kv in node.value for n in kv]
    return []


def _check_graph(root: Node, source: str) -> None:
    """Count alias uses and the size of the expanded document before anything is built."""
    seen: set[int] = {id(root)}
    aliases = 0
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _err(source, _line(node), f"lists or mappings are nested more than {MAX_DEPTH} levels deep",
                       "flatten the file")
        for child in _children(node):
            if id(child) in seen:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _err(source, _line(child), f"the file uses more than {MAX_ALIASES} aliases (*name)",
                               "write the values out instead of repeating them with anchors and aliases")
                continue
            seen.add(id(child))
            stack.append((child, depth + 1))
    if not aliases:
        return
    # expanded size: post-order over the graph, memoised by node; an alias to an enclosing node is a cycle
    size: dict[int, int] = {}
    on_path: set[int] = set()
    limit = len(seen) + MAX_ALIAS_NODES
    work: list[tuple[Node, bool]] = [(root, False)]
    while work:
        node, done = work.pop()
        if done:
            on_path.discard(id(node))
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > limit:
                raise _err(source, _line(node), f"aliases (*name) would expand the file to more than {limit} "
                           "values (an alias bomb?)", "write the values out instead of nesting aliases")
            size[id(node)] = total
            continue
        if id(node) in size:
            continue
        on_path.add(id(node))
        work.append((node, True))
        for c in _children(node):
            if id(c) in on_path:
                raise _err(source, _line(c), "an alias (*name) refers to a list or mapping it is inside",
                           "remove the recursive alias")
            if id(c) not in size:
                work.append((c, False))


class _Builder:
    def __init__(self, loader: Any, doc: Document) -> None:
        self.loader = loader
        self.doc = doc

    def _refuse(self, node: Node, message: str, hint: str) -> InputError:
        return _err(self.doc.source, _line(node), message, hint)

    def scalar(self, node: ScalarNode, *, key: bool = False) -> Any:
        tag = node.tag
        if tag not in _SCALARS:
            raise self._refuse(node, f"the tag {tag!r} is not allowed in a configuration file",
                               "remove the tag (the `!...` before the value); quote the value if it is text")
        if tag == _STR:
            return node.value
        if key and tag in (_BOOL, _NULL):  # `on:`, `no:`, `null:` as keys name something
            return node.value
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
            raise self._refuse(node, f"the value {node.value[:40]!r} cannot be read ({str(e).splitlines()[0]})",
                               "quote the value if it is text") from None

    def build(self, node: Node, path: Path, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                raise self._refuse(node, f"the tag {node.tag!r} is not allowed in a configuration file",
                                   "remove the tag (the `!...` before the list)")
            out = []
            for i, child in enumerate(node.value):
                p = (*path, i)
                self.doc.lines[p] = _line(child)
                out.append(self.build(child, p, depth + 1))
            return out
        if not isinstance(node, MappingNode) or node.tag != _MAP:
            raise self._refuse(node, f"the tag {node.tag!r} is not allowed in a configuration file",
                               "remove the tag (the `!...` before the mapping)")
        data: dict[Any, Any] = {}
        first: dict[Any, int] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                raise self._refuse(knode, "a key must be a plain name, not a list or mapping",
                                   "write key: value with a plain name before the colon")
            if knode.tag == _MERGE:
                raise self._refuse(knode, "merge keys (<<) are not supported in configuration files",
                                   "write the keys out in full")
            k = self.scalar(knode, key=True)
            p = (*path, k)
            line = _line(knode)
            if k in first:
                self.doc.problems.append(Problem(line, _dotted(path), f"the key `{k}` appears twice in one mapping "
                                                 f"(first on line {first[k]}); remove one"))
                continue
            first[k] = line
            self.doc.lines[p] = line
            data[k] = self.build(vnode, p, depth + 1)
        return data


def _dotted(path: Path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) and not isinstance(p, bool) else (f".{p}" if out else str(p))
    return out
