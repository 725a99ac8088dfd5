"""Builders of hostile student repositories, a short-limit rubric and host-state probes.

Every repository is a real git repository with a dated commit (before the test deadline) whose
README's "Usage" block holds the attack as runnable steps. ``requirements.txt`` is empty, so all
groups share one bare environment image and the suite builds at most once.
"""

from __future__ import annotations

import contextlib
import html.parser
import os
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import notebook_files
from gitrepo import commit, git, init_repo

DATE = "2026-03-30T12:00:00+02:00"
DEADLINE = "2026-03-31T23:59:59+02:00"
# Marker of injected markup: it must never be live in an HTML page, only escaped text.
MARK = "rgpwn"
SCRIPT = f"<script>alert('{MARK}')</script>"
IMG = f"<img src=x onerror=\"alert('{MARK}')\">"
INJECT = f"{SCRIPT}{IMG}"
FILLER = (
    "This project classifies short audio clips. The README explains how to set up the "
    "environment and how to run the scripts; every step below runs on a CPU in seconds. "
)


def readme(title: str, steps: list[str], extra: str = "") -> str:
    """A README with enough prose to pass the word count and ``steps`` as one bash block."""
    block = "\n".join(steps)
    return f"# {title}\n\n{FILLER * 3}\n\n{extra}\n\n## Usage\n\n```bash\n{block}\n```\n"


def attack_repo(path: Path, steps: list[str], files: dict[str, str | bytes] | None = None) -> Path:
    """A git repository whose README runs ``steps``; ``files`` are committed alongside."""
    init_repo(path)
    commit(
        path,
        {
            "README.md": readme(path.name, steps),
            "requirements.txt": "",
            **(files or {}),
        },
        f"attack {path.name}",
        DATE,
    )
    return path


def rubric_file(
    folder: Path, *, notebooks: bool = False, disk_mb: int = 64, step_timeout: str = "5s"
) -> Path:
    """The default rubric with small limits (fast, cheap attacks); notebooks optional."""
    from repograder import config

    text = (Path(config.__file__).parent / "rubrics" / "dl4ad.yaml").read_text(encoding="utf-8")
    head, _, rest = text.partition("limits:\n")
    _, _, checks = rest.partition("checks:\n")
    limits = textwrap.dedent(
        f"""\
        limits:
          memory_mb: 256
          cpus: 1
          pids: 128
          step_timeout: {step_timeout}
          build_timeout: 10m
          output_kb: 16
          disk_mb: {disk_mb}
          network: false
        """
    )
    if not notebooks:
        start = checks.index("  - id: notebooks")
        end = checks.index("  - id:", start + 5)
        checks = checks[:start] + checks[end:]
    path = folder / "rubric.yaml"
    path.write_text(f"{head}{limits}checks:\n{checks}", encoding="utf-8")
    return path


def groups_file(folder: Path, groups: list[tuple[str, Path]]) -> Path:
    """A groups.yaml with the test deadline listing (name, repository path) pairs."""
    lines = ["course: Adversarial", f"deadline: {DEADLINE}", "groups:"]
    for name, repo in groups:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'  - name: "{quoted}"\n    repo: "{repo}"')
    path = folder / "groups.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ host state


def repograder_containers() -> list[str]:
    """Ids of every container (running or not) carrying the repograder label."""
    proc = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=repograder=1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.split()


def child_processes() -> list[str]:
    """Descriptions of this test process's live descendants (a leak would show here)."""
    proc = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,stat=,args="], capture_output=True, text=True, check=True
    )
    rows = [line.split(None, 3) for line in proc.stdout.splitlines()]
    parents: dict[str, str] = {r[0]: r[1] for r in rows if len(r) >= 3}
    mine: list[str] = []
    for row in rows:
        if len(row) < 4 or row[0] == str(os.getpid()) or row[2].startswith("Z"):
            continue
        pid, seen = row[0], 0
        while pid in parents and seen < 64:
            pid = parents[pid]
            seen += 1
            if pid == str(os.getpid()):
                if "ps -e" not in row[3]:
                    mine.append(" ".join(row))
                break
    return mine


_OURS = ("repograder", "rg-", "rg_", MARK, "nbexec", "capture", "checkout", "paper")


@contextlib.contextmanager
def isolated_run(root: Path, name: str = "run-tmp") -> Iterator[tuple[str, Path]]:
    """A fixed run id and a private TMPDIR for one `repograder run`: (run id, temp folder)."""
    import tempfile
    import uuid

    run_id = uuid.uuid4().hex[:12]
    tmp = root / name
    tmp.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("repograder.cli.uuid.uuid4", lambda: uuid.UUID(run_id.ljust(32, "0")))
        patch.setenv("TMPDIR", str(tmp))
        patch.setattr(tempfile, "tempdir", None)
        yield run_id, tmp


def run_containers(run_id: str) -> list[str]:
    """Ids of the containers (running or not) of one grading run."""
    proc = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=repograder.run={run_id}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.split()


@dataclass(frozen=True)
class HostSnapshot:
    """Names in a few host folders a leaking grader could write into."""

    listings: dict[str, frozenset[str]]

    @staticmethod
    def take(*extra: Path) -> HostSnapshot:
        folders = [Path("/tmp"), Path("/root"), Path.home(), Path("/var/tmp"), *extra]
        listings: dict[str, frozenset[str]] = {}
        for folder in folders:
            try:
                listings[str(folder)] = frozenset(os.listdir(folder))
            except OSError:
                listings[str(folder)] = frozenset()
        return HostSnapshot(listings)

    def new_entries(self, after: HostSnapshot) -> dict[str, set[str]]:
        """Entries that appeared, ignoring other processes' temp files we cannot attribute."""
        grown: dict[str, set[str]] = {}
        for folder, before in self.listings.items():
            added = set(after.listings.get(folder, frozenset()) - before)
            # The machine is shared: only names a grader of ours would create count.
            added = {a for a in added if any(k in a.lower() for k in _OURS)}
            if added:
                grown[folder] = added
        return grown


# ------------------------------------------------------------------------------ HTML audit


class _Audit(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts = 0
        self.handlers: list[str] = []
        self.live_urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            url = (value or "").strip().lower()
            if name.lower() in ("href", "src", "action") and url.startswith(("javascript:", "vbs")):
                self.live_urls.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@dataclass(frozen=True)
class HtmlAudit:
    scripts: int
    handlers: tuple[str, ...]
    live_urls: tuple[str, ...]
    text: str


def audit_html(page: Path) -> HtmlAudit:
    """Parse ``page``: script elements, ``on*`` attributes, script URLs and the visible text."""
    parser = _Audit()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return HtmlAudit(
        parser.scripts, tuple(parser.handlers), tuple(parser.live_urls), "".join(parser.text)
    )


def assert_no_live_markup(out: Path) -> int:
    """Every HTML page under ``out`` is inert; returns how many pages show the marker as text."""
    pages = list(out.rglob("*.html"))
    assert pages, f"no HTML pages under {out}"
    shown = 0
    for page in pages:
        audit = audit_html(page)
        assert audit.scripts == 0, f"{page}: <script> element"
        assert not audit.handlers, f"{page}: event handler attributes {audit.handlers[:3]}"
        assert not audit.live_urls, f"{page}: script URLs {audit.live_urls[:3]}"
        raw = page.read_text(encoding="utf-8", errors="replace")
        assert f"<script>alert('{MARK}')" not in raw, page
        assert "<img src=x onerror" not in raw, page
        if MARK in audit.text:
            shown += 1
    return shown


def git_log_size(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD"))


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", name="base_image")
def base_image_fixture() -> str:
    """The sandbox base image; a missing engine fails in CI (conftest) and skips elsewhere."""
    from repograder.sandbox import docker as sandbox_docker

    ok, message = sandbox_docker.docker_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"Docker is required in CI: {message}")
        pytest.skip(message)
    if not sandbox_docker.base_image_available():
        sandbox_docker.build_base_image(offline=True, log=lambda _line: None)
    return sandbox_docker.BASE_IMAGE


# ------------------------------------------------------------------------------ hostile files


def deflated_zeros(size: int) -> bytes:
    """``size`` zero bytes deflated, without holding them in memory (a decompression bomb)."""
    import zlib

    packer = zlib.compressobj(1)
    chunk = b"\0" * (1 << 24)
    parts = [packer.compress(chunk) for _ in range(size >> 24)]
    return b"".join(parts) + packer.flush()


def pdf_bytes(content: bytes, info: dict[str, str], *, deflated: bool = False) -> bytes:
    """A one-page PDF whose page content is ``content`` and with ``info`` metadata."""
    stream = content
    filt = b"/Filter /FlateDecode " if deflated else b""
    meta = b" ".join(
        b"/"
        + k.encode()
        + b" ("
        + v.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode()
        + b")"
        for k, v in info.items()
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< "
        + filt
        + b"/Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream",
        b"<< " + meta + b" >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 5 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def notebook_json(cells: list[tuple[str, list[dict[str, object]]]]) -> str:
    """An nbformat-4 notebook of code cells (source, stored outputs)."""
    return notebook_files.notebook_json(notebook_files.code(src, out) for src, out in cells)


def fast_import_history(repo: Path, commits: int) -> None:
    """Append ``commits`` tiny commits to ``repo``'s main branch in one git fast-import."""
    lines: list[str] = []
    parent = git(repo, "rev-parse", "HEAD")
    for i in range(commits):
        data = f"{i}\n"
        lines += [
            "commit refs/heads/main",
            f"author Student <s@example.org> {1774000000 + i} +0000",
            f"committer Student <s@example.org> {1774000000 + i} +0000",
            f"data {len(f'c{i}')}",
            f"c{i}",
        ]
        if i == 0:
            lines.append(f"from {parent}")
        lines += [f"M 100644 inline history/n{i % 100}.txt", f"data {len(data)}", data.rstrip("\n")]
        lines.append("")
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet", "--force"],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
    )
    git(repo, "reset", "-q", "--hard", "main")
