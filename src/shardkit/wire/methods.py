"""The wire's method registry: ``@rpc`` service methods, the Router of names, typed params.

A service is any object whose methods are marked with :func:`rpc`: each names its wire method,
its params schema (a msgspec Struct with ``array_like=True``, so positional params map onto
named fields) and the roles that may call it. :class:`Router` collects the marked methods of
a few services; :func:`convert_params` turns wire params into the schema or refuses them with
a ``bad_params`` error that names the field.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from shardkit.wire.messages import RpcError

__all__ = [
    "Handler",
    "Identity",
    "MethodSpec",
    "Router",
    "convert_params",
    "methods_of",
    "params_of",
    "rpc",
]

T = TypeVar("T")


class Identity(msgspec.Struct, frozen=True):
    """Who is on the other end of an authenticated connection."""

    role: str  # "player", or a service role such as "daemon", "characters", "world"
    name: str
    account_id: int | None = None



@dataclass(frozen=True)
class MethodSpec:
    """What the wire knows about one method: its name, params schema and who may call it."""

    name: str
    params: type | None
    roles: frozenset[str] | None  # None: callable before authentication
    doc: str


_RPC_ATTR = "__shardkit_rpc__"


def rpc(
    name: str | None = None,
    params: type | None = None,
    *,
    roles: Iterable[str] | None = ("player",),
    public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a service method as callable over the wire.

    ``public=True`` makes it callable before authentication (handshake methods);
    otherwise the caller's ``Identity.role`` must be in ``roles``.
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (inspect.getdoc(fn) or "").split("\n", 1)[0]
        spec = MethodSpec(
            name or fn.__name__,
            params,
            None if public else frozenset(roles or ()),
            doc,
        )
        setattr(fn, _RPC_ATTR, spec)
        return fn

    return mark


def methods_of(cls: type) -> list[MethodSpec]:
    """The wire methods a service class declares, without instantiating it."""
    specs = []
    for klass in reversed(cls.__mro__):
        for attr in vars(klass).values():
            spec = getattr(attr, _RPC_ATTR, None)
            if spec is not None:
                specs.append(spec)
    return sorted({s.name: s for s in specs}.values(), key=lambda s: s.name)


Handler = Callable[..., Any]


class Router:
    """Maps method names to bound handlers and their schemas."""

    def __init__(self) -> None:
        self._methods: dict[str, tuple[MethodSpec, Handler]] = {}

    @classmethod
    def for_services(cls, *services: object) -> Router:
        router = cls()
        for service in services:
            router.add_service(service)
        return router

    def add_service(self, service: object) -> None:
        for klass in type(service).__mro__:
            for attr_name, attr in vars(klass).items():
                spec = getattr(attr, _RPC_ATTR, None)
                if spec is not None and spec.name not in self._methods:
                    self._methods[spec.name] = (spec, getattr(service, attr_name))

    def names(self) -> list[str]:
        return sorted(self._methods)

    def lookup(self, name: str) -> tuple[MethodSpec, Handler] | None:
        return self._methods.get(name)


_PATH = re.compile(r"`\$((?:\[[^\]`]*\]|\.\w+)+)`")
_STEP = re.compile(r"\[[^\]]*\]|\.\w+")


_TOO_FEW = re.compile(r"Expected `array` of at least length (\d+), got (\d+)$")


def _name_fields(message: str, schema: type) -> str:
    """Replace msgspec's positional paths (`$[1][0]`) with the schema's field names (`to.x`),
    and name the fields missing from params that are too few."""
    too_few = _TOO_FEW.match(message)
    names = getattr(schema, "__struct_fields__", ())
    if too_few and int(too_few.group(2)) < len(names):
        missing = names[int(too_few.group(2)):int(too_few.group(1))]
        return f"{message}: missing {', '.join(f'`{name}`' for name in missing)}"
    return _PATH.sub(lambda match: f"`{_named_path(match.group(1), schema)}`", message)


def _named_path(path: str, schema: Any) -> str:
    """``[1][0]`` as ``to.x`` where the steps index array-like structs; other steps as they are."""
    shown = ""
    current: Any = schema
    for step in _STEP.findall(path):
        struct = _struct_in(current)
        fields = _fields_of(struct) if struct is not None else ()
        if step[1:-1].isdigit() and int(step[1:-1]) < len(fields):  # an array-like field
            field_info = fields[int(step[1:-1])]
            shown, current = f"{shown}.{field_info.name}" if shown else field_info.name, \
                field_info.type
        elif step.startswith("."):  # a field of a struct that is not array-like
            named = [f for f in fields if f.encode_name == step[1:]]
            shown, current = shown + step if shown else step[1:], named[0].type if named else None
        else:  # an element of a list, a dict's value...
            if not shown:
                return "$" + path
            args = typing.get_args(current)
            shown, current = shown + step, args[-1] if args else None
    return shown


@functools.cache
def _fields_of(struct: type[msgspec.Struct]) -> tuple[msgspec.structs.FieldInfo, ...]:
    """A struct's fields with their types (resolving annotations is slow: once per struct)."""
    return msgspec.structs.fields(struct)


def _struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    """The struct an annotation is (or the one struct of a union such as ``Point | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    structs = [t for t in typing.get_args(annotation)
               if isinstance(t, type) and issubclass(t, msgspec.Struct)]
    return structs[0] if len(structs) == 1 else None


_NATIVE_TYPES = (bytes, bytearray)
"""Types MessagePack carries natively (``bin``): msgspec must not make them from a str."""


def convert_params(params: Any, schema: type[T]) -> T:
    """Convert wire params into a method's schema, or raise a ``bad_params`` RpcError.

    Types are strict: an int is accepted for a float, nothing else is coerced. In particular a
    ``bytes`` field takes only MessagePack ``bin``; a str there (msgspec would decode base64)
    is refused, so a client that sends hex or base64 text learns it at once.
    """
    try:
        return msgspec.convert(params, schema, builtin_types=_NATIVE_TYPES)
    except msgspec.ValidationError as exc:
        raise RpcError("bad_params", _name_fields(str(exc), schema)) from None


def params_of(struct: Any) -> list[Any]:
    """A schema struct's fields in order, as positional MessagePack-RPC params."""
    return [getattr(struct, name) for name in struct.__struct_fields__]

