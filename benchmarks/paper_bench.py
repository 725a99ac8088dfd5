"""Measure the paper checks on real repositories against a careful human's labels.

usage: python benchmarks/paper_bench.py --mirrors DIR [--cases benchmarks/paper_cases.yaml]
                                        [--only NAME] [--verbose]

Each case in the YAML list names a public repository, the commit graded and what a careful
human grader decided by reading the PDFs:

  - repo: owner/name
    commit: <40 hex>
    paper: path/of/the/paper.pdf      # null: no PDF in the repository is the group's paper
    pages: 4                          # the paper's page count
    format: pass                      # the human's verdict on the IEEE conference template:
                                      # pass, warn (that template with a visible deviation),
                                      # fail (another template); absent: no clear answer
    why: one line: what the human saw
    also: [other/path.pdf]            # optional: other PDFs a human would accept (copies)
    set: held-out                     # optional: labelled after the fixes (reported apart)

The repositories are not downloaded here: ``--mirrors`` is a folder of git directories laid
out as ``<owner>+<name>/repo`` (bare or with a ``.git`` inside), each holding the commit. The
commit's tree is written to a temporary folder (blobs the mirror lacks are skipped and named:
large files may be absent) and graded with the same functions as the pipeline:

- **PDF choice**: :func:`repograder.paper.inspect_paper` with the default globs picks the
  paper; it agrees when it picks the labelled path (or finds none when the label is null).
- **Template verdict**: the labelled paper alone is measured (the PDF choice does not blur
  this figure) and :func:`repograder.checks.paper_format.evaluate_format` judged with the
  default rubric's parameters; it agrees when its status is the labelled one (pass, warn or fail).
- **Template verdict, end to end**: the same judgement on the PDF the grader chose (a wrong
  choice or none counts against it), which is what the group gets.
- **Pages**: the labelled paper's page count as measured.

Prints one row per case and the agreement figures. Nothing fetched is written outside the
temporary folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from repograder.checks.paper_format import evaluate_format
from repograder.config import DEFAULT_RUBRIC, load_rubric
from repograder.model import Params
from repograder.paper import inspect_paper, measure_paper

HERE = Path(__file__).resolve().parent
MAX_BLOB_BYTES = 60_000_000


@dataclass(frozen=True)
class Case:
    repo: str
    commit: str
    paper: str | None
    pages: int | None
    format: str | None
    why: str
    also: tuple[str, ...] = ()
    set: str = "tuning"


def load_cases(path: Path) -> list[Case]:
    """The labelled cases; raises ValueError naming the entry on a missing or wrong field."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: a YAML list of cases is expected")
    cases = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not {"repo", "commit", "paper"} <= set(item):
            raise ValueError(f"{path}: case {index}: repo, commit and paper are required")
        cases.append(
            Case(
                str(item["repo"]),
                str(item["commit"]),
                item["paper"],
                item.get("pages"),
                item.get("format"),
                str(item.get("why", "")),
                tuple(str(p) for p in item.get("also", []) or []),
                str(item.get("set", "tuning")),
            )
        )
    return cases


def git_dir(mirrors: Path, repo: str) -> Path:
    """The mirror's git directory of ``owner/name``."""
    base = mirrors / repo.replace("/", "+", 1) / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def materialise(gitdir: Path, commit: str, dest: Path) -> list[str]:
    """Write the commit's tree into ``dest``; returns the paths whose blobs are absent."""
    listing = subprocess.run(
        ["git", "--git-dir", str(gitdir), "ls-tree", "-r", "-z", "--long", commit],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    wanted: list[tuple[str, str]] = []
    absent: list[str] = []
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if kind != "blob" or mode == "120000" or not size.isdigit():
            continue
        if int(size) > MAX_BLOB_BYTES:
            absent.append(path)
            continue
        wanted.append((sha, path))
    batch = subprocess.Popen(
        ["git", "--git-dir", str(gitdir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin is not None
    assert batch.stdout is not None
    for sha, path in wanted:
        batch.stdin.write(sha.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            absent.append(path)
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        target = dest / path
        if ".." in Path(path).parts:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    batch.stdin.close()
    batch.wait()
    return absent


def _format_params() -> Params:
    rubric = load_rubric(DEFAULT_RUBRIC)
    for check in rubric.checks:
        if check.id == "paper-format":
            return Params(check.params, "paper-format")
    return Params()


def measure(case: Case, root: Path, params: Params) -> dict[str, Any]:
    """What the tool decides for one materialised case."""
    facts = inspect_paper(root)
    row: dict[str, Any] = {"chosen": facts.path if facts.status == "found" else None}
    row["candidates"] = [(c.path, c.score) for c in facts.candidates[:4]]
    # End to end: the verdict on whatever PDF the grader chose (what a group would get).
    row["format_e2e"] = str(evaluate_format(facts, params).status)
    if case.paper is not None:
        own = measure_paper(root, case.paper)
        verdict = evaluate_format(own, params)
        row["format"] = str(verdict.status)
        row["pages"] = own.pages
        row["findings"] = {
            str(f["check"]): str(f["status"])
            for f in verdict.details.get("findings", [])  # type: ignore[union-attr]
            if isinstance(f, dict)
        }
        row["measured"] = {
            str(f["check"]): str(f["measured"])
            for f in verdict.details.get("findings", [])  # type: ignore[union-attr]
            if isinstance(f, dict) and f.get("status") != "pass"
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=HERE / "paper_cases.yaml")
    parser.add_argument("--only", default="")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    cases = [c for c in load_cases(args.cases) if args.only in c.repo]
    params = _format_params()
    choice_ok = template_ok = template_n = pages_ok = pages_n = e2e_ok = 0
    by_set: dict[str, list[int]] = {}
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="paper-bench-") as tmp:
            root = Path(tmp)
            try:
                absent = materialise(git_dir(args.mirrors, case.repo), case.commit, root)
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"{case.repo}: cannot materialise {case.commit[:10]}: {exc}")
                continue
            row = measure(case, root, params)
        chose = row["chosen"] == case.paper or row["chosen"] in case.also
        choice_ok += chose
        tally = by_set.setdefault(case.set, [0, 0])
        tally[0] += chose
        tally[1] += 1
        line = [f"{case.repo:45s}", "pdf ok " if chose else "PDF BAD", f"chose={row['chosen']}"]
        if not chose:
            line.append(f"want={case.paper}")
        if case.paper is not None and case.format is not None:
            template_n += 1
            agrees = row["format"] == case.format
            template_ok += agrees
            e2e_ok += row["format_e2e"] == case.format
            line.append(f"format={row['format']}" + ("" if agrees else f" (human: {case.format})"))
        if case.paper is not None and case.pages is not None:
            pages_n += 1
            pages_ok += row.get("pages") == case.pages
            if row.get("pages") != case.pages:
                line.append(f"pages={row.get('pages')} want {case.pages}")
        if absent:
            line.append(f"absent: {len(absent)} blob(s)")
        print("  ".join(line))
        if args.verbose or not chose:
            print(f"    candidates: {row['candidates']}")
        if args.verbose and row.get("measured"):
            for key, value in row["measured"].items():
                print(f"    {key}: {value}")
    print()
    print(f"PDF choice:        {choice_ok}/{len(cases)}")
    for name, (ok, n) in sorted(by_set.items()):
        print(f"  {name + ':':17s}{ok}/{n}")
    print(f"template verdict:  {template_ok}/{template_n} (on the labelled paper)")
    print(f"  end to end:      {e2e_ok}/{template_n} (on the PDF the grader chose)")
    print(f"page count:        {pages_ok}/{pages_n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
