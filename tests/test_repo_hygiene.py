"""The repository is self-contained: product files refer to nothing outside it.

Code, docs, README and examples may not cite files a user of this repository does not
have (a specification or notes kept beside the checkout, absolute paths of one machine),
nor internal tracker numbers. Every relative link in README.md and docs/*.md must point to
a file of the repository (and to a heading that exists, for links into Markdown files).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("compiler", "runtime", "backends", "examples", "docs", "README.md", "tests", "bench")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".cfg", ".json", ""}

# Built from pieces so that this file does not contain what it looks for.
_SPEC = "SPEC" + r"\.md"
_OUTSIDE = r"\.\./" + "shared"
_ABSOLUTE = "|".join(("/" + "work/", "/" + "root/", "/" + "home/"))
_TRACKER = r"\b" + "iss" + r"ues?\s*#?\d+"
FORBIDDEN = {
    "a specification file outside the repository": re.compile(_SPEC),
    "a path outside the repository": re.compile(_OUTSIDE),
    "an absolute path of one machine": re.compile(_ABSOLUTE),
    "an internal tracker number": re.compile(_TRACKER, re.IGNORECASE),
}
# trackers of other projects may be cited (e.g. a Lava bug a workaround exists for)
EXTERNAL_TRACKER = re.compile(r"\b(lava|lava-nc|nengo|nengo-loihi|nir|numpy|scipy|pyyaml|"
                              r"pymetis|metis|sanafe|sana-fe)\s+$", re.IGNORECASE)

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL_LINK = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def product_files() -> list[Path]:
    """Tracked text files under SCANNED (every file there when git is not available)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", *SCANNED], cwd=ROOT,
                             capture_output=True, check=True, timeout=60).stdout
        paths = [ROOT / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        paths = [p for s in SCANNED for p in ((ROOT / s).rglob("*") if (ROOT / s).is_dir()
                                              else [ROOT / s])]
    return sorted(p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES)


def forbidden_references(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line: what (text)` for every forbidden reference in one file."""
    found = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), start=1):
        for what, pattern in FORBIDDEN.items():
            for m in pattern.finditer(line):
                if pattern.pattern == _TRACKER and EXTERNAL_TRACKER.search(line[:m.start()]):
                    continue
                found.append(f"{path.relative_to(root)}:{n}: {what} ({m.group(0)!r})")
    return found


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML (e.g. a trailing comment)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (GitHub numbering of duplicates included)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link and image outside code blocks and code spans."""
    out = []
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        out.extend((n, m.group(1)) for m in LINK.finditer(line))
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line: link -> why` for relative links that lead nowhere."""
    bad = []
    for n, target in links(path):
        if EXTERNAL_LINK.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root)}:{n}: {target}"
        if root not in dest.parents and dest != root:
            bad.append(f"{where} -> leaves the repository")
        elif not dest.exists():
            bad.append(f"{where} -> no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{where} -> no heading '#{anchor}' in {dest.relative_to(root)}")
    return bad


def markdown_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def test_the_scan_sees_the_product_files():
    files = {p.relative_to(ROOT).as_posix() for p in product_files()}
    for expected in ("README.md", "runtime/cli.py", "compiler/ir.py", "docs/network-format.md",
                     "examples/two_layer.yaml"):
        assert expected in files, expected


def test_no_references_outside_the_repository():
    problems = [p for f in product_files() for p in forbidden_references(f)]
    assert not problems, "references to things a user of this repository does not have:\n" \
        + "\n".join(problems)


def test_the_patterns_catch_what_they_should(tmp_path):
    sample = tmp_path / "sample.md"
    lines = ["see " + "SPEC" + ".md section 2", "from .." + "/shared/notes", "/" + "root/x.py",
             "goals of " + "iss" + "ue 6", "(" + "Iss" + "ue #12)", "lava " + "iss" + "ue #484",
             "a clean line"]
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = forbidden_references(sample, tmp_path)
    assert [f.split(":")[1] for f in found] == ["1", "2", "3", "4", "5"], found
    assert found[0].startswith("sample.md:1: a specification file outside the repository")


def test_docs_and_readme_exist():
    for name in ("network-format.md", "targets.md", "cli.md", "results.md", "artifact.md"):
        assert (ROOT / "docs" / name).is_file(), name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/network-format.md", "docs/cli.md", "docs/results.md"):
        assert name in readme, name


def test_relative_links_point_to_existing_files():
    problems = [p for f in markdown_files() for p in broken_links(f)]
    assert not problems, "broken relative links:\n" + "\n".join(problems)


def test_the_link_check_catches_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cli.md").write_text("# The `snnc` CLI\n\n## Exit status\n",
                                              encoding="utf-8")
    sample = tmp_path / "docs" / "sample.md"
    sample.write_text("# Title\n\n[ok](cli.md) [anchor](#title) [bad](nowhere.md)\n"
                      "[bad anchor](cli.md#no-such-heading) [web](https://example.org/x)\n"
                      "[heading](cli.md#exit-status) [out](../../elsewhere.md)\n"
                      "`[code](ignored.md)`\n\n```\n[fenced](ignored.md)\n```\n",
                      encoding="utf-8")
    bad = broken_links(sample, tmp_path)
    assert len(bad) == 3, bad
    assert bad[0].startswith("docs/sample.md:3: nowhere.md -> no such file")
    assert "no heading '#no-such-heading'" in bad[1]
    assert "../../elsewhere.md -> leaves the repository" in bad[2]
