"""Bounds and checks on every request, applied once at the edge, before a servicer sees it.

The interceptor (:mod:`octopack.common.interceptors`) runs :meth:`Rules.check` on every decoded
request message. The walk follows the message's descriptor, so every field of every message is
covered without listing it; what differs per field is declared once per service (a
``validation.py`` beside its servicer) as :class:`Rule` overrides keyed by the field's full proto
name, plus whole-message checks for rules that span fields. What holds for every field unless a
service says otherwise:

- strings: at most ``Limits.max_chars`` characters and no control characters (a newline, a NUL or
  an escape sequence in a name ends up in S3 keys, logs and shell commands);
- repeated and map fields: at most ``Limits.max_items`` entries;
- enums: only the values the proto declares (proto3 keeps unknown numbers; they are refused here);
- floats and doubles: finite (NaN compares false with every bound, so it would pass them all);
- nesting: at most ``Limits.max_depth`` messages deep (``google.protobuf.Struct`` included).

Every refusal is :class:`~octopack.common.errors.InvalidArgument` naming the field by its path in
the request (``spec.crawl.repositories[2]``) and saying what to send instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from octopack.common.checks import short
from octopack.common.errors import InvalidArgument, OctopackError

#: C0 and C1 control characters, DEL and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The same, but tab, newline and carriage return are text in multi-line fields (code, YAML, prompts).
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Field name of a map entry's key and value.
_MAP_KEY, _MAP_VALUE = "key", "value"
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_INTS = (
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
)

#: A whole-message check: raises InvalidArgument naming fields relative to the message.
MessageCheck = Callable[[Any], None]
#: A check of one string value: raises InvalidArgument (or ValueError) saying what is wrong with it.
TextCheck = Callable[[str], object]


@dataclass(frozen=True)
class Limits:
    """What every field gets unless a :class:`Rule` says otherwise."""

    max_chars: int = 1024
    max_items: int = 1000
    max_depth: int = 32


@dataclass(frozen=True)
class Rule:
    """How one field is checked; None keeps the default of :class:`Limits`.

    For a repeated field the string and number parts apply to each element, ``max_items`` to the
    list; for a map field to each key and value, and ``max_items`` to the map.
    """

    max_chars: int | None = None
    #: Allow tab, newline and carriage return (YAML, descriptions).
    multiline: bool = False
    #: Allow every character: data that is never a name, a key or a log line (program source, records).
    raw: bool = False
    #: A regular expression a non-empty value must match as a whole.
    pattern: str | None = None
    #: What the pattern means, for the message ("a dataset name such as commits").
    hint: str = ""
    #: A further check of each non-empty string value.
    check: TextCheck | None = None
    max_items: int | None = None
    #: Inclusive bounds of a number.
    low: float | None = None
    high: float | None = None
    #: Largest bytes value.
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.pattern is not None:
            re.compile(self.pattern)


def text(max_chars: int, *, multiline: bool = False, raw: bool = False) -> Rule:
    """A free-text field of at most ``max_chars`` characters."""
    return Rule(max_chars=max_chars, multiline=multiline, raw=raw)


def number(low: float | None = None, high: float | None = None) -> Rule:
    """A number in ``[low, high]``."""
    return Rule(low=low, high=high)


def choice(values: Iterable[str], what: str) -> Rule:
    """A string that is empty (the default) or one of ``values`` (``what``: "data profile")."""
    allowed = tuple(values)

    def check(value: str) -> None:
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}")

    return Rule(max_chars=64, check=check)


def items(max_items: int, **rule: Any) -> Rule:
    """A repeated or map field of at most ``max_items`` entries (each checked by ``rule``)."""
    return Rule(max_items=max_items, **rule)


class FieldError(InvalidArgument):
    """INVALID_ARGUMENT about one field; a check of a nested message names the field relative to it
    and the walk puts the message's own path in front."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}" if field else why)
        self.field = field
        self.why = why


def bad(path: str, why: str) -> FieldError:
    """The error for field ``path``: ``spec.crawl.branch: <why>``."""
    return FieldError(path, why)


def join(path: str, name: str) -> str:
    """``spec`` + ``crawl.branch`` -> ``spec.crawl.branch`` (either may be empty)."""
    return f"{path}.{name}" if path and name else path or name


@dataclass
class Rules:
    """Field rules by full field name (``octopack.jobs.v1.CrawlConfig.branch``) and message checks by
    full message name (``octopack.jobs.v1.SubmitJobRequest``); combine services' rules with ``|``."""

    fields: Mapping[str, Rule] = field(default_factory=dict)
    messages: Mapping[str, MessageCheck | Iterable[MessageCheck]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self.fields = {**BASE, **self.fields}

    def __or__(self, other: Rules) -> Rules:
        checks: dict[str, list[MessageCheck]] = {}
        for source in (self.messages, other.messages):
            for name, found in source.items():
                checks.setdefault(name, []).extend([found] if callable(found) else list(found))
        return Rules({**self.fields, **other.fields}, checks, other.limits)

    def check(self, message: Message) -> None:
        """Raise :class:`InvalidArgument` at the first field that breaks a rule."""
        self._message(message, "", 0)

    # -- the walk --------------------------------------------------------------------------------
    def _message(self, message: Message, path: str, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise bad(path, f"nested more than {self.limits.max_depth} levels deep")
        descriptor = message.DESCRIPTOR
        for fd, value in message.ListFields():
            where = join(path, fd.name)
            rule = self.fields.get(fd.full_name, _DEFAULT)
            if fd.is_repeated:
                limit = rule.max_items if rule.max_items is not None else self.limits.max_items
                if len(value) > limit:
                    raise bad(where, f"has {len(value)} entries; at most {limit}")
                if _is_map(fd):
                    self._map(fd, value, where, rule, depth)
                else:
                    for i, item in enumerate(value):
                        self._value(fd, item, f"{where}[{i}]", rule, depth)
            else:
                self._value(fd, value, where, rule, depth)
        found = self.messages.get(descriptor.full_name)
        for check in [found] if callable(found) else list(found or ()):
            try:
                check(message)
            except FieldError as exc:
                raise bad(join(path, exc.field), exc.why) from exc
            except InvalidArgument as exc:
                raise bad(path, exc.message) from exc

    def _map(self, fd: FieldDescriptor, value: Any, where: str, rule: Rule, depth: int) -> None:
        entry = fd.message_type
        assert entry is not None  # a map field's entry message
        key_fd, value_fd = entry.fields_by_name[_MAP_KEY], entry.fields_by_name[_MAP_VALUE]
        for key in value:
            self._value(key_fd, key, f"{where} key {short(key)}", rule, depth)
            self._value(value_fd, value[key], f"{where}[{short(key)}]", rule, depth)

    def _value(self, fd: FieldDescriptor, value: Any, where: str, rule: Rule, depth: int) -> None:
        kind = fd.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            self._message(value, where, depth + 1)
        elif kind == FieldDescriptor.TYPE_STRING:
            self._text(value, where, rule)
        elif kind == FieldDescriptor.TYPE_BYTES:
            if rule.max_bytes is not None and len(value) > rule.max_bytes:
                raise bad(where, f"is {len(value)} bytes; at most {rule.max_bytes}")
        elif kind == FieldDescriptor.TYPE_ENUM:
            enum = fd.enum_type
            assert enum is not None  # an enum field's type
            if value not in enum.values_by_number:
                names = ", ".join(v.name for v in enum.values)
                raise bad(where, f"{value} is not a value of {enum.full_name}; use one of {names}")
        elif kind in _FLOATS:
            if not math.isfinite(value):
                raise bad(where, f"must be a finite number, not {value}")
            _bounds(value, where, rule)
        elif kind in _INTS:
            _bounds(value, where, rule)

    def _text(self, value: str, where: str, rule: Rule) -> None:
        limit = rule.max_chars if rule.max_chars is not None else self.limits.max_chars
        if len(value) > limit:
            raise bad(where, f"has {len(value)} characters; at most {limit}")
        control = None if rule.raw else (_CONTROL_MULTILINE if rule.multiline else _CONTROL).search(value)
        if control is not None:
            raise bad(where, f"contains the control character {control.group()!r} at {control.start()}")
        if not value:
            return
        if rule.pattern is not None and re.fullmatch(rule.pattern, value) is None:
            raise bad(where, f"{short(value)} is not {rule.hint or 'valid'} (regex {rule.pattern})")
        if rule.check is not None:
            try:
                rule.check(value)
            except (ValueError, OctopackError) as exc:
                why = exc.message if isinstance(exc, OctopackError) else str(exc)
                if isinstance(exc, OctopackError) and not isinstance(exc, InvalidArgument):
                    raise type(exc)(f"{where}: {why}") from exc
                raise bad(where, why) from exc


_DEFAULT = Rule()

#: Rules every server applies: the well-known types carry free-form documents (filter configs, stats).
BASE = {
    "google.protobuf.Value.string_value": Rule(max_chars=64 * 1024, multiline=True),
    "google.protobuf.Struct.fields": Rule(max_items=10_000, max_chars=1024),
    "google.protobuf.ListValue.values": Rule(max_items=100_000),
}


def _is_map(fd: FieldDescriptor) -> bool:
    entry = fd.message_type
    return entry is not None and entry.GetOptions().map_entry


def _bounds(value: float, where: str, rule: Rule) -> None:
    if rule.low is not None and value < rule.low:
        raise bad(where, f"is {value}; must be at least {_num(rule.low)}")
    if rule.high is not None and value > rule.high:
        raise bad(where, f"is {value}; must be at most {_num(rule.high)}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
