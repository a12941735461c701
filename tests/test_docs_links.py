"""The documents point only at files that are in the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target)
_QUOTED_DOC = re.compile(r"`([^`\s]*/[^`\s]*\.md)`")  # `some/path.md`


def _in_repo(path: Path) -> bool:
    path = path.resolve()
    return path.exists() and REPO in path.parents


def test_documents_refer_only_to_files_in_the_repository() -> None:
    missing = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL, or an anchor on the same page
            if not _in_repo(document.parent / target.split("#", 1)[0]):
                missing.append(f"{document.relative_to(REPO)}: link {target}")
        for quoted in _QUOTED_DOC.findall(text):  # relative to the page or to the repository
            if not (_in_repo(document.parent / quoted) or _in_repo(REPO / quoted)):
                missing.append(f"{document.relative_to(REPO)}: `{quoted}`")
    assert missing == []
