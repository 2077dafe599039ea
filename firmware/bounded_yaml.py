"""Reading a YAML configuration file with bounds, so no file can hang the loader or exhaust memory.

`yaml.safe_load` refuses arbitrary objects but nothing else: a 30 MB file
takes minutes, ``/dev/zero`` never ends, lists nested 100,000 deep overflow
the recursion limit, an integer of 5,000 digits trips Python's conversion
limit, and a "billion laughs" alias bomb builds in microseconds a structure
whose expansion (walking it, printing it) is 387 million nodes. Here:

- the file must be a regular file (not a FIFO or a device: those can block
  or never end, and the appliance saves its configuration back to the file)
  of at most `MAX_FILE_BYTES`;
- text is UTF-8 (a BOM is allowed) or, with a BOM, UTF-16 or UTF-32 (what
  Windows editors write as "Unicode");
- before anything is built, the event stream is checked: nesting at most
  `MAX_DEPTH`, scalars at most `MAX_SCALAR` characters, at most `MAX_EVENTS`
  events, no key twice in one mapping (PyYAML would keep the last silently);
- integers have at most `MAX_INT_DIGITS` digits;
- after loading, the document expanded through its aliases has at most
  `MAX_NODES` nodes, and no alias refers to a node that contains it.

The largest real configuration (256 channels, 8 areas of 10 points each,
floats at full precision) is about 1.1 MB and 250,000 expanded nodes.
Every refusal is a `BoundedYamlError` with one line for the user.
"""
from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_SCALAR = 4096
MAX_EVENTS = 1_000_000
MAX_NODES = 1_000_000
MAX_INT_DIGITS = 30

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: 40x faster


class BoundedYamlError(ValueError):
    """The file cannot be read as a bounded YAML document; one line for the user."""


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    pass


def _bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    # Counted on the text, before int() (which refuses 4,300 digits with a ValueError).
    digits = len(node.value.replace("_", "").lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise BoundedYamlError(f"a number of {digits:,} digits at line {node.start_mark.line + 1} "
                               f"(at most {MAX_INT_DIGITS})")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path: str | os.PathLike) -> str:
    """The file's text, read with the bounds above. Raises BoundedYamlError or OSError."""
    path = Path(path)
    # O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BoundedYamlError(f"{_kind(st.st_mode)}, not a configuration file; give the YAML file itself")
        if st.st_size > MAX_FILE_BYTES:
            raise BoundedYamlError(f"{_size(st.st_size)}; a configuration is at most {_size(MAX_FILE_BYTES)}")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)  # the file may grow after the stat
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise BoundedYamlError(f"more than {_size(MAX_FILE_BYTES)}; a configuration is at most that")
    return decode(data)


def decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise BoundedYamlError(f"not {encoding.upper().replace('-SIG', '')} text (byte 0x{data[e.start]:02x} "
                               f"on line {line}); save the file as UTF-8") from None


def load(text: str) -> Any:
    """One YAML document from `text`, checked against the bounds. Raises BoundedYamlError or yaml.YAMLError."""
    _check_events(text)
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (BoundedYamlError, yaml.YAMLError):
        raise
    except (ValueError, OverflowError, TypeError) as e:
        # A value of a known type that Python cannot hold: "!!float abc", a year-0 date...
        raise BoundedYamlError(f"a value that cannot be read ({e})") from None
    _check_expansion(doc)
    return doc


def _check_events(text: str) -> None:
    events = 0
    # One entry per open list (None) or mapping ([keys seen, next node is a key]).
    open_: list[list | None] = []
    for event in yaml.parse(text, Loader=_Loader):
        events += 1
        if events > MAX_EVENTS:
            raise BoundedYamlError(f"more than {MAX_EVENTS:,} YAML elements")
        if isinstance(event, yaml.CollectionEndEvent):
            open_.pop()
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR:
            raise BoundedYamlError(f"a value of {len(event.value):,} characters at line "
                                   f"{event.start_mark.line + 1} (at most {MAX_SCALAR:,})")
        mapping = open_[-1] if open_ else None
        if mapping is not None:
            if mapping[1] and isinstance(event, yaml.ScalarEvent) and event.value != "<<":
                # YAML says keys are unique; PyYAML would keep the last of two silently,
                # so a second `name:` a user forgot about would win without a word.
                if event.value in mapping[0]:
                    raise BoundedYamlError(f"the key {event.value[:40]!r} appears twice in one mapping "
                                           f"(line {event.start_mark.line + 1})")
                mapping[0].add(event.value)
            mapping[1] = not mapping[1]
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([set(), True] if isinstance(event, yaml.MappingStartEvent) else None)
            if len(open_) > MAX_DEPTH:
                raise BoundedYamlError(f"lists or mappings nested deeper than {MAX_DEPTH} levels "
                                       f"at line {event.start_mark.line + 1}")


def _check_expansion(doc: Any) -> None:
    """Count the nodes of `doc` with every alias expanded, without expanding it.

    Aliases load as shared Python objects, so sizes are summed once per
    object (iteratively: no recursion, whatever the depth) and a shared
    object counts as often as it is referred to."""
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        obj, children_done = stack.pop()
        if not isinstance(obj, list | dict):
            continue
        key = id(obj)
        items = list(obj.items()) if isinstance(obj, dict) else obj
        kids = [v for kv in items for v in kv] if isinstance(obj, dict) else items
        if children_done:
            open_.discard(key)
            total = 1 + sum(size.get(id(k), 1) if isinstance(k, list | dict) else 1 for k in kids)
            if total > MAX_NODES:
                raise BoundedYamlError(f"expands through its aliases (&anchor / *alias) to more than "
                                       f"{MAX_NODES:,} values")
            size[key] = total
            continue
        if key in size:
            continue
        if key in open_:
            raise BoundedYamlError("an alias (*name) refers to a list or mapping that contains it")
        open_.add(key)
        stack.append((obj, True))
        for k in kids:
            if isinstance(k, list | dict):
                if id(k) in open_:
                    raise BoundedYamlError("an alias (*name) refers to a list or mapping that contains it")
                stack.append((k, False))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"
