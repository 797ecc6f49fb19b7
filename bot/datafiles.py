"""Loading the project's YAML data files with line numbers for error messages.

Flows, scripts, personas and the vocabulary are edited by hand by trainers; a
mistake must point at the file and line, not surface later as a KeyError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml


class DataFileError(ValueError):
    """A data file is malformed; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Located:
    """A parsed YAML value together with where it was written."""

    value: Any
    path: Path
    line: int

    def error(self, reason: str) -> DataFileError:
        return DataFileError(self.path, self.line, reason)

    def get(self, key: str) -> Located:
        """The child under ``key`` of a mapping; a clear error when missing."""
        children = self.mapping()
        if key not in children:
            raise self.error(f"missing key '{key}'")
        return children[key]

    def optional(self, key: str) -> Located | None:
        return self.mapping().get(key)

    def mapping(self) -> dict[str, Located]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, found {type_name(self.value)}")
        return self.value

    def items(self) -> list[Located]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, found {type_name(self.value)}")
        return self.value

    def text(self) -> str:
        if isinstance(self.value, (int, float)) and not isinstance(self.value, bool):
            return str(self.value)
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error(f"expected non-empty text, found {type_name(self.value)}")
        return self.value.strip()

    def texts(self) -> list[str]:
        return [item.text() for item in self.items()]

    def plain(self) -> Any:
        """The value with every location stripped, for simple sub-trees."""
        if isinstance(self.value, dict):
            return {key: child.plain() for key, child in self.value.items()}
        if isinstance(self.value, list):
            return [child.plain() for child in self.value]
        return self.value


def type_name(value: Any) -> str:
    if isinstance(value, Located):
        value = value.value
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def load_located(path: Path | str) -> Located:
    """Parse a YAML file into a tree of :class:`Located` values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(path, None, "not UTF-8 text") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise DataFileError(path, line, f"invalid YAML: {exc.problem}") from exc
    if node is None:
        raise DataFileError(path, 1, "the file is empty")
    return _locate(node, path)


def _locate(node: yaml.Node, path: Path) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        children: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in children:
                raise DataFileError(path, key_node.start_mark.line + 1, f"duplicate key '{key}'")
            children[key] = _locate(value_node, path)
        return Located(children, path, line)
    if isinstance(node, yaml.SequenceNode):
        return Located([_locate(child, path) for child in node.value], path, line)
    return Located(yaml.SafeLoader("").construct_object(node), path, line)


def yaml_files(folder: Path | str) -> Iterator[Path]:
    """The ``*.yml``/``*.yaml`` files of a folder in a stable order."""
    folder = Path(folder)
    yield from sorted(p for p in folder.iterdir() if p.suffix in {".yml", ".yaml"})


T = TypeVar("T")


def load_folder(
    folder: Path | str, parse: Callable[[Path], T], key: Callable[[T], str], what: str
) -> dict[str, T]:
    """Every data file of a folder, parsed and keyed by id; ids must be unique."""
    items: dict[str, T] = {}
    for path in yaml_files(folder):
        item = parse(path)
        if key(item) in items:
            raise DataFileError(path, 1, f"{what} '{key(item)}' is defined twice")
        items[key(item)] = item
    if not items:
        raise DataFileError(folder, None, f"no {what} defined")
    return items
