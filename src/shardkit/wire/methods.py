"""The wire's method registry: ``@rpc`` marks service methods, a Router maps names to them, params are typed.

A service is any object whose methods are marked with :func:`rpc`: each names its wire method,
its params schema (a msgspec Struct with ``array_like=True``, so positional params map onto
named fields) and the roles that may call it. :class:`Router` collects the marked methods of
a few services; :func:`convert_params` turns wire params into the schema or refuses them with
a ``bad_params`` error that names the field.
"""

from __future__ import annotations

import inspect
import re
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


_PATH_INDEX = re.compile(r"`\$\[(\d+)\]")


def _name_fields(message: str, schema: type) -> str:
    """Replace msgspec's positional paths (`$[1]`) with the schema's field names."""
    fields = getattr(schema, "__struct_fields__", ())

    def swap(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"`{fields[index]}" if index < len(fields) else match.group(0)

    return _PATH_INDEX.sub(swap, message)


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

