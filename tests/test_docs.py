"""The repository documents itself: every Markdown link resolves inside it, and nothing points outside.

- Every relative link in every Markdown file (README.md, docs/*.md, deploy/README.md, ...) must reach
  a file or folder of the repository; a link with ``#anchor`` to a Markdown file must name one of its
  headings (GitHub's anchor rules) or an explicit ``id``/``name`` anchor.
- No file in the repository (code, tests, docs, config, programs) may cite what a clone does not
  have: the old design notes kept beside the repository (its sibling shared folder, the DESIGN and PROTOCOLS files)
  or numbered tracker items ("issue 7"). Cite the docs/ page that holds the fact instead, e.g.
  "docs/safety.md, rule 3".
- Every ``docs/PAGE.md`` named in the code exists, and a "docs/safety.md, rule N" names one of its
  eight rules.

The checkers are tested on a small tree in ``tmp_path`` so they are known to be able to fail.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: This file holds the forbidden patterns and examples of them; it is the one file not scanned.
EXEMPT = {"tests/test_docs.py"}

#: Pages written on other branches at the same time (the program format, the config options). A link
#: to one of them is accepted while the file is missing; once merged they are checked like any page.
#: Empty this set after the merge.
PENDING = {"docs/programs.md", "docs/config.md"}

#: Folders never scanned when the tree is not a git checkout (an unpacked sdist).
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "build", "dist", ".pytest_cache", ".hypothesis",
              "screenshots", "out", "node_modules"}

# --- which files -------------------------------------------------------------------------------


def repository_files(root: Path = ROOT) -> list[str]:
    """Paths (relative, with ``/``) of the files that belong to the repository: tracked by git plus
    new ones not ignored (so a page is checked before it is committed). Without git, every file
    under *root* outside build and cache folders."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True, timeout=60).stdout
        names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
        return [n for n in names if (root / n).is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            found.append((Path(folder) / name).relative_to(root).as_posix())
    return sorted(found)


def read_text(path: Path) -> str | None:
    """The file as text, or ``None`` for a binary file (fonts, sounds, images)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- Markdown: links and anchors -----------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
_HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text: str):
    """``(line number, line)`` outside fenced code blocks, with inline code spans blanked out."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * len(match.group(1))
            continue
        if fence is not None:
            if match and match.group(1).startswith(fence):
                fence = None
            continue
        yield number, _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)


def links(text: str) -> list[tuple[int, str]]:
    """Every link target in *text* with its line: inline links and images, reference
    definitions, HTML ``href``/``src``. Links inside code are not links."""
    found = []
    for number, line in prose_lines(text):
        found += [(number, m.group(1)) for m in _INLINE_LINK.finditer(line)]
        found += [(number, m.group(1)) for m in _HTML_LINK.finditer(line)]
        ref = _REFERENCE.match(line)
        if ref:
            found.append((number, ref.group(1)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation dropped
    (letters, digits, ``_`` and ``-`` stay), spaces become ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)                          # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors a Markdown file offers: its headings (``-1``, ``-2`` for repeats) and HTML ids."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for _, line in prose_lines(text):
        match = _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
        out.update(m.group(1) for m in _HTML_ANCHOR.finditer(line))
    return out


def link_problems(root: Path, files: list[str], pending: set[str] = frozenset()) -> list[str]:
    """One line per Markdown link that does not resolve inside *root*."""
    root = root.resolve()
    problems = []
    cache: dict[Path, set[str]] = {}
    for name in files:
        if not name.lower().endswith(".md"):
            continue
        source = root / name
        text = read_text(source)
        if text is None:
            continue
        for number, target in links(text):
            where = f"{name}:{number}: {target}"
            if not target or _SCHEME.match(target) or target.startswith("//"):
                continue  # a web address (http:, mailto:), checked by nobody here
            path_part, _, anchor = target.partition("#")
            path_part = path_part.split("?", 1)[0]
            if path_part:
                base = root if path_part.startswith("/") else source.parent
                resolved = (base / path_part.lstrip("/")).resolve()
            else:
                resolved = source.resolve()
            try:
                relative = resolved.relative_to(root).as_posix()
            except ValueError:
                problems.append(f"{where}: points outside the repository")
                continue
            if not resolved.exists():
                if relative in pending:
                    continue
                problems.append(f"{where}: no such file or folder ({relative})")
                continue
            if anchor and resolved.is_file() and resolved.suffix.lower() == ".md":
                if resolved not in cache:
                    cache[resolved] = anchors(read_text(resolved) or "")
                if anchor not in cache[resolved]:
                    problems.append(f"{where}: no heading or anchor '#{anchor}' in {relative}")
    return problems


# --- citations of what a clone does not have -------------------------------------------------------

#: What points outside the repository, each with what to write instead.
OUTSIDE = (
    (re.compile(r"\.\./shared\b"), "a path outside the repository; link a docs/ page"),
    (re.compile(r"\bshared/(?:schemas|hooks|DESIGN|PROTOCOLS)"), "the project's shared folder is not in the repository"),
    (re.compile(r"\bDESIGN(?:\.md\b|\s*§)"), "the design notes are not in the repository; cite the docs/ page"),
    (re.compile(r"\bPROTOCOLS(?:\.md\b|\s*§)"), "the practice notes are not in the repository; cite docs/practice.md"),
    (re.compile(r"\bissues?\s*#?\d+\b", re.IGNORECASE), "a tracker item number means nothing in a clone; say what it is about"),
)

_DOCS_PAGE = re.compile(r"\bdocs/([\w.-]+\.md)\b")
_SAFETY_RULE = re.compile(r"\bdocs/safety\.md,?\s+rules?\s+(\d+)")


def citation_problems(root: Path, files: list[str], exempt: set[str] = frozenset(),
                      pending: set[str] = frozenset()) -> list[str]:
    """One line per place that cites something outside the repository, a docs/ page that does not
    exist, or a safety rule that is not one of the eight."""
    problems = []
    for name in files:
        if name in exempt:
            continue
        text = read_text(root / name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for pattern, why in OUTSIDE:
                match = pattern.search(line)
                if match:
                    problems.append(f"{name}:{number}: {match.group(0)!r}: {why}")
            for match in _DOCS_PAGE.finditer(line):
                page = f"docs/{match.group(1)}"
                if not (root / page).is_file() and page not in pending:
                    problems.append(f"{name}:{number}: {page}: no such page in docs/")
            for match in _SAFETY_RULE.finditer(line):
                if not 1 <= int(match.group(1)) <= 8:
                    problems.append(f"{name}:{number}: {match.group(0)!r}: docs/safety.md has rules 1 to 8")
    return problems


# --- the repository ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files() -> list[str]:
    return repository_files(ROOT)


def test_every_relative_link_in_markdown_resolves(files):
    markdown = [f for f in files if f.lower().endswith(".md")]
    assert "README.md" in markdown and "docs/README.md" in markdown
    problems = link_problems(ROOT, files, PENDING)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_nothing_in_the_repository_points_outside_it(files):
    problems = citation_problems(ROOT, files, EXEMPT, PENDING)
    assert not problems, "citations a clone cannot follow:\n" + "\n".join(problems)


def test_every_docs_page_is_in_the_index(files):
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    listed = {target.partition("#")[0] for _, target in links(index)}
    pages = {f.removeprefix("docs/") for f in files if f.startswith("docs/") and f.endswith(".md")}
    missing = sorted(pages - listed - {"README.md"})
    assert not missing, f"docs pages not listed in docs/README.md: {missing}"


def test_safety_rules_are_numbered_one_to_eight():
    """Code cites "docs/safety.md, rule N": each rule has its own heading."""
    text = (ROOT / "docs" / "safety.md").read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"^## Rule (\d+):", text, re.MULTILINE)]
    assert numbers == list(range(1, 9))


# --- the checkers can fail --------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str | bytes]) -> tuple[Path, list[str]]:
    root = tmp_path / "repo"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root, sorted(files)


def test_the_link_checker_finds_every_kind_of_broken_link(tmp_path):
    (tmp_path / "outside.md").write_text("# Outside\n")
    root, names = _tree(tmp_path, {
        "README.md": (
            "# Project\n"
            "[good](docs/guide.md) [good anchor](docs/guide.md#rule-2-stop-at-once) [folder](docs/)\n"
            "[web](https://example.org/x.md) [mail](mailto:a@b.c) [here](#project)\n"
            "[missing](docs/nope.md)\n"
            "[bad anchor](docs/guide.md#rule-9)\n"
            "[outside](../outside.md)\n"
            "![image](img/missing.png)\n"
            "[pending](docs/later.md)\n"
            "[ref]: docs/also-missing.md\n"
            "`[in code](docs/nope.md)`\n"
            "```\n[in a block](docs/nope.md)\n```\n"
            '<a href="docs/html-missing.md">html</a>\n'
        ),
        "docs/guide.md": "# Guide\n\n## Rule 2: stop, at once\n\n## Rule 2: stop, at once\n[back](../README.md#project)\n"
                         "[twin](#rule-2-stop-at-once-1)\n",
    })
    problems = link_problems(root, names, {"docs/later.md"})
    assert [p.split(": ", 1)[0] for p in problems] == ["README.md:4", "README.md:5", "README.md:6", "README.md:7",
                                                        "README.md:9", "README.md:14"]
    assert "no such file" in problems[0] and "no heading or anchor '#rule-9'" in problems[1]
    assert "points outside the repository" in problems[2]


def test_the_citation_checker_finds_every_kind_of_citation(tmp_path):
    # The planted citations are built from pieces, so this file itself cites nothing outside.
    design, protocols, outside = "DES" + "IGN", "PROTO" + "COLS", ".." + "/shared"
    root, names = _tree(tmp_path, {
        "app/a.py": f"# {design}.md §2 rule 3\nx = 1  # fine\n",
        "app/b.py": f'"""See {design} §2.3 and {protocols}.md "Dose"."""\n',
        "README.md": f"[x]({outside}/thing.md)\n",
        "tests/c.py": "# copied from shared/schemas\n# issue 7 item 4\n# Issue #12\n",
        "deploy/d.toml": "# docs/safety.md, rule 9\n# docs/nope.md\n# docs/safety.md, rule 3 and docs/later.md\n",
        "docs/safety.md": "## Rule 1: x\n",
        "assets/font.ttf": b"\0\1binary " + design.encode() + b".md issue 3",
        "tests/test_docs.py": f"{design}.md issue 1\n",
    })
    problems = citation_problems(root, names, {"tests/test_docs.py"}, {"docs/later.md"})
    assert [p.split(": ", 1)[0] for p in problems] == [
        "README.md:1", "app/a.py:1", "app/b.py:1", "app/b.py:1", "deploy/d.toml:1", "deploy/d.toml:2",
        "tests/c.py:1", "tests/c.py:2", "tests/c.py:3"]


@pytest.mark.parametrize("heading, anchor", [
    ("Rule 3: rails released too early, pause", "rule-3-rails-released-too-early-pause"),
    ("`backstep run`", "backstep-run"),
    ("exports and export_keys", "exports-and-export_keys"),
    ("Cue mode: treadmills without a link", "cue-mode-treadmills-without-a-link"),
    ("The [CSAFE](https://example.org) link", "the-csafe-link"),
    ("Start-up: service screen & safe mode", "start-up-service-screen--safe-mode"),
])
def test_anchors_follow_githubs_rules(heading, anchor):
    assert slug(heading) == anchor
