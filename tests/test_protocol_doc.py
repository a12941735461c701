"""docs/protocol.md stays true to the code.

The document marks each section that documents wire methods with a comment right under
its ``## `` heading::

    ## Master port (2002)
    <!-- service: shardkit.master.server.MasterPort, shardkit.wire.handshake.ServiceAuth -->

Inside such a section every method has a heading ``### `name` `` and one line
``Params: `a`: type, `b`: type`` (or ``Params: none``). These tests check that

- each section's method headings are exactly the ``@rpc`` methods of the classes it names;
- each ``Params:`` line names the fields of the method's params struct, in order;
- every class in ``shardkit`` that declares ``@rpc`` methods is named by some section;
- the SCRAM test vector is what the code computes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import inspect
import pkgutil
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
import scramp
from msgspec.structs import astuple

import shardkit
from shardkit.wire.rpc import MethodSpec, methods_of
from shardkit.wire.scram import MECHANISM, ScramServerSession, make_verifier

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"

#: Dependencies that may be missing on some platforms (pyproject: uvloop is not for win32).
#: A module that fails to import for any other reason fails the test.
OPTIONAL_DEPENDENCIES = frozenset({"uvloop"})

#: Entry points, not library modules: importing ``shardkit.__main__`` runs the CLI.
ENTRY_POINT_MODULES = frozenset({"shardkit.__main__"})

_SECTION = re.compile(r"^## (.+?)\s*$")
_TITLE = re.compile(r"^# ")
_SUBHEADING = re.compile(r"^### ")
_METHOD = re.compile(r"^### `([^`]+)`\s*$")
_SERVICE = re.compile(r"^<!--\s*service:(.*?)-->\s*$")
_PARAMS = re.compile(r"^Params:(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TICKED = re.compile(r"`([^`]+)`")


# --------------------------------------------------------------------------- parsing


@dataclass
class MethodDoc:
    name: str
    line: int
    params: list[str] | None = None  # None: the method has no Params line


@dataclass
class Section:
    title: str
    line: int
    services: list[str] = field(default_factory=list)  # empty: not a method section
    methods: list[MethodDoc] = field(default_factory=list)

    @property
    def documents_methods(self) -> bool:
        return bool(self.services)


@dataclass
class ParsedDoc:
    sections: list[Section]
    problems: list[str]  # places where the document breaks the expected structure

    @property
    def method_sections(self) -> list[Section]:
        return [s for s in self.sections if s.documents_methods]


def parse_doc(text: str) -> ParsedDoc:
    """Split the document into ``## `` sections, their service comments, methods and params."""
    sections: list[Section] = []
    problems: list[str] = []
    section: Section | None = None
    method: MethodDoc | None = None
    expect_service = False
    in_fence = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if _TITLE.match(line):
            section, method, expect_service = None, None, False
            continue
        heading = _SECTION.match(line)
        if heading:
            section = Section(heading.group(1), number)
            sections.append(section)
            method, expect_service = None, True
            continue
        service = _SERVICE.match(line)
        if expect_service and line.strip():
            expect_service = False
            if service:
                assert section is not None
                names = [n.strip() for n in service.group(1).split(",")]
                if not all(names):
                    problems.append(f"line {number}: service comment with an empty class name")
                section.services = [n for n in names if n]
                continue
        if service:
            problems.append(f"line {number}: service comment not right under a '## ' heading")
            continue
        if _SUBHEADING.match(line):
            found = _METHOD.match(line)
            if section is None or not section.documents_methods:
                if found:
                    problems.append(
                        f"line {number}: method heading {line!r} outside a section with a "
                        "service comment"
                    )
                method = None
                continue
            if not found:
                problems.append(
                    f"line {number}: {line!r} in section {section.title!r} is not of the form "
                    "### `method_name`"
                )
                method = None
                continue
            method = MethodDoc(found.group(1), number)
            section.methods.append(method)
            continue
        params = _PARAMS.match(line)
        if params:
            if method is None:
                problems.append(f"line {number}: 'Params:' line outside a method")
                continue
            if method.params is not None:
                problems.append(f"line {number}: second 'Params:' line for `{method.name}`")
                continue
            value = params.group(1).strip()
            names = _TICKED.findall(value)
            if value == "none":
                method.params = []
            elif names:
                method.params = names
            else:
                problems.append(
                    f"line {number}: 'Params:' line for `{method.name}` names no `param` "
                    "(write 'Params: none' for a method without params)"
                )
                method.params = []
    if in_fence:
        problems.append("unclosed code fence")
    for section in sections:
        if section.documents_methods and not section.methods:
            problems.append(f"section {section.title!r} names services but documents no method")
        for method in section.methods:
            if method.params is None:
                problems.append(
                    f"line {method.line}: `{method.name}` in {section.title!r}"
                    " has no 'Params:' line"
                )
    return ParsedDoc(sections, problems)


# ------------------------------------------------------------------ code side


def resolve_class(dotted: str) -> type:
    """Import ``package.module.Class`` (or a nested ``Module.Outer.Inner``)."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: object = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # this prefix is not a module; try a shorter one
            raise
        for attr in parts[split:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if inspect.isclass(obj):
            return obj
        raise LookupError(f"{dotted!r}: {module_name} has no class {'.'.join(parts[split:])}")
    raise LookupError(f"{dotted!r}: no module found")


def class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def specs_of(services: Iterable[str]) -> tuple[dict[str, MethodSpec], list[str]]:
    """The methods of the named classes by name, and problems (unknown classes, clashes)."""
    specs: dict[str, MethodSpec] = {}
    owners: dict[str, str] = {}
    problems: list[str] = []
    for dotted in services:
        try:
            cls = resolve_class(dotted)
        except LookupError as exc:
            problems.append(f"cannot import {exc}")
            continue
        methods = methods_of(cls)
        if not methods:
            problems.append(f"{dotted} declares no @rpc methods")
        for spec in methods:
            if spec.name in specs:
                problems.append(
                    f"method {spec.name!r} is declared by both {owners[spec.name]} and {dotted}; "
                    "one heading cannot document both"
                )
                continue
            specs[spec.name] = spec
            owners[spec.name] = dotted
    return specs, problems


def heading_differences(documented: Iterable[str], in_code: Iterable[str]) -> list[str]:
    """Compare method headings with method names; empty when they are the same set."""
    doc, code = set(documented), set(in_code)
    problems = []
    if doc - code:
        problems.append(f"documented but not in code: {sorted(doc - code)}")
    if code - doc:
        problems.append(f"in code but not documented: {sorted(code - doc)}")
    return problems


def expected_params(spec: MethodSpec) -> list[str]:
    """The params struct's field names in order; none for a method without a struct."""
    if spec.params is None:
        return []
    fields: tuple[str, ...] = getattr(spec.params, "__struct_fields__")  # noqa: B009
    return list(fields)


def heading_problems(section: Section) -> list[str]:
    """Why the method headings of a section differ from its classes' @rpc methods."""
    specs, problems = specs_of(section.services)
    counts = Counter(m.name for m in section.methods)
    problems += [
        f"heading `{name}` appears {n} times" for name, n in sorted(counts.items()) if n > 1
    ]
    problems += heading_differences(counts, specs)
    return problems


def params_problems(section: Section) -> list[str]:
    """Why the Params lines of a section differ from the methods' params structs."""
    specs, problems = specs_of(section.services)
    for method in section.methods:
        spec = specs.get(method.name)
        if spec is None or method.params is None:
            continue  # reported by heading_problems / the structure test
        expected = expected_params(spec)
        if method.params != expected:
            struct = spec.params.__name__ if spec.params is not None else "no params struct"
            problems.append(
                f"`{method.name}` (line {method.line}): Params lists {method.params or 'none'}, "
                f"but {struct} has {expected or 'none'}"
            )
    return problems


def _is_optional_dependency(exc: BaseException) -> bool:
    return (
        isinstance(exc, ModuleNotFoundError)
        and (exc.name or "").split(".")[0] in OPTIONAL_DEPENDENCIES
    )


def _classes_defined_in(module: ModuleType) -> Iterator[type]:
    def nested(cls: type) -> Iterator[type]:
        yield cls
        for attr in vars(cls).values():
            if inspect.isclass(attr) and attr.__qualname__.startswith(cls.__qualname__ + "."):
                yield from nested(attr)

    for obj in list(vars(module).values()):
        if inspect.isclass(obj) and obj.__module__ == module.__name__:
            yield from nested(obj)


def rpc_classes_in_code() -> tuple[list[type], list[str]]:
    """Every class under ``shardkit`` with @rpc methods, and modules that failed to import."""
    failures: list[str] = []

    def on_package_error(name: str) -> None:  # walk_packages could not import a package
        failures.append(f"{name}: package failed to import")

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(shardkit.__path__, "shardkit.", onerror=on_package_error):
        if info.name in ENTRY_POINT_MODULES:
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            if not _is_optional_dependency(exc):
                failures.append(f"{info.name}: {exc!r}")
            continue
        for cls in _classes_defined_in(module):
            if methods_of(cls):
                found[class_name(cls)] = cls
    return [found[name] for name in sorted(found)], failures


# ------------------------------------------------------------------------ tests


def _load_doc() -> ParsedDoc | None:
    if not DOC_PATH.is_file():
        return None
    return parse_doc(DOC_PATH.read_text(encoding="utf-8"))


_DOC = _load_doc()
_SECTIONS = _DOC.method_sections if _DOC is not None else []


def test_doc_exists_and_is_well_formed() -> None:
    assert _DOC is not None, f"{DOC_PATH} is missing"
    assert _DOC.method_sections, "no section has a <!-- service: ... --> comment"
    assert not _DOC.problems, "docs/protocol.md breaks the expected structure:\n" + "\n".join(
        _DOC.problems
    )


@pytest.mark.parametrize("section", _SECTIONS, ids=[s.title for s in _SECTIONS])
def test_section_documents_exactly_the_methods_in_code(section: Section) -> None:
    problems = heading_problems(section)
    assert not problems, (
        f"section {section.title!r} (line {section.line}) of docs/protocol.md vs "
        f"{', '.join(section.services)}:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("section", _SECTIONS, ids=[s.title for s in _SECTIONS])
def test_params_lines_match_the_params_structs(section: Section) -> None:
    problems = params_problems(section)
    assert not problems, f"section {section.title!r} of docs/protocol.md:\n" + "\n".join(problems)


def test_every_rpc_class_is_documented() -> None:
    classes, failures = rpc_classes_in_code()
    assert not failures, "modules failed to import:\n" + "\n".join(failures)
    assert classes, "found no class with @rpc methods: is discovery broken?"
    assert _DOC is not None, f"{DOC_PATH} is missing"
    documented: set[type] = set()
    for section in _DOC.method_sections:
        for dotted in section.services:
            try:
                documented.add(resolve_class(dotted))
            except LookupError:
                pass  # reported by test_section_documents_exactly_the_methods_in_code
    missing = [class_name(cls) for cls in classes if cls not in documented]
    assert not missing, (
        "classes with @rpc methods that no <!-- service: ... --> section of docs/protocol.md "
        f"names: {missing}"
    )


# ------------------------------------------------------------------ SCRAM test vector


def scram_vector(text: str) -> dict[str, str]:
    """The ``name  value`` lines of the first fenced block under ``### SCRAM test vector``."""
    lines = text.splitlines()
    start = lines.index("### SCRAM test vector")
    fences = [i for i in range(start, len(lines)) if _FENCE.match(lines[i])][:2]
    assert len(fences) == 2, "no fenced block under ### SCRAM test vector"
    values = {}
    for line in lines[fences[0] + 1 : fences[1]]:
        name, _, value = line.partition("  ")
        values[name.strip()] = value.strip()
    return values


def _hmac(key: bytes, message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).digest()


def test_scram_test_vector_is_what_the_code_computes() -> None:
    """Every line of the doc's vector, recomputed twice: by the RFC 5802 formulas with hashlib,
    and by the code shardkit logs in with (scramp, and shardkit.wire.scram's verifier)."""
    v = scram_vector(DOC_PATH.read_text(encoding="utf-8"))
    salt, iterations = bytes.fromhex(v["salt"]), int(v["iterations"])
    password, user = v["password"], v["username"]
    combined_nonce = v["client nonce"] + v["server nonce"]

    # RFC 5802, by hand
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = _hmac(salted, "Client Key")
    stored_key, server_key = hashlib.sha256(client_key).digest(), _hmac(salted, "Server Key")
    client_first_bare = f"n={user},r={v['client nonce']}"
    server_first = f"r={combined_nonce},s={base64.b64encode(salt).decode()},i={iterations}"
    final_without_proof = f"c=biws,r={combined_nonce}"
    auth_message = f"{client_first_bare},{server_first},{final_without_proof}"
    proof = bytes(a ^ b for a, b in zip(client_key, _hmac(stored_key, auth_message), strict=True))
    by_hand = {
        "salt (base64)": base64.b64encode(salt).decode(),
        "SaltedPassword": salted.hex(),
        "stored_key": stored_key.hex(),
        "server_key": server_key.hex(),
        "client-first": f"n,,{client_first_bare}",
        "server-first": server_first,
        "client-final": f"{final_without_proof},p={base64.b64encode(proof).decode()}",
        "server-final": f"v={base64.b64encode(_hmac(server_key, auth_message)).decode()}",
    }
    assert {name: v[name] for name in by_hand} == by_hand

    # the code: the verifier a client registers, and a login through scramp with these nonces
    verifier = make_verifier(password, iterations, salt=salt)
    assert (verifier.stored_key.hex(), verifier.server_key.hex()) == (v["stored_key"],
                                                                      v["server_key"])
    client = scramp.ScramClient([MECHANISM], user, password, c_nonce=v["client nonce"])
    server = scramp.ScramMechanism(MECHANISM).make_server(
        lambda _name: astuple(verifier), s_nonce=v["server nonce"])
    assert client.get_client_first() == v["client-first"]
    server.set_client_first(v["client-first"])
    assert server.get_server_first() == v["server-first"]
    client.set_server_first(v["server-first"])
    assert client.get_client_final() == v["client-final"]
    server.set_client_final(v["client-final"])
    assert server.get_server_final() == v["server-final"]
    client.set_server_final(v["server-final"])  # raises if the server's proof were wrong

    # and the master's own server session takes this client-first for this verifier
    answer = ScramServerSession(verifier).first(v["client-first"])
    assert answer.startswith(f"r={v['client nonce']}")
    assert answer.endswith(f",s={v['salt (base64)']},i={iterations}")
