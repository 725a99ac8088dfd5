"""README step extraction and classification against a careful human's labels.

Input: a folder of READMEs (``NAME.md``, ``NAME.rst``, ...) each with ``NAME.expected.yaml``
in the shape of ``tests/data/readmes`` (``steps: [{line, kind, command}]``: every command a
careful human grader would take from the README, its 1-based first line and its kind).
A found step matches a labelled one on the same line.

- recall: labelled commands found / labelled commands;
- precision: found steps that are labelled commands / found steps;
- kind agreement: matched steps whose kind is the label's / matched steps.

Usage: ``python benchmarks/readme_bench.py [FOLDER ...] [--show]`` (default:
``benchmarks/readmes``, own READMEs written in the shapes of real student READMEs). ``--show``
lists every disagreement. ``--manifest benchmarks/real_readmes.yaml [--mirror DIR]`` measures
the real READMEs listed there (repository, commit, path, labels), read with ``git show`` from
fetched copies under DIR (default ``/work/.mirror``, as the ``fetch`` tool leaves them); their
text is never kept in this repository. Issue 14 asks for at least 95% on each figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from repograder.readme import parse_readme

HERE = Path(__file__).parent


Labelled = tuple[str, str, dict[int, dict[str, str]]]  # (name, README text, line -> label)


def _folder(folder: Path) -> Iterator[Labelled]:
    for expected_path in sorted(folder.glob("*.expected.yaml")):
        name = expected_path.name.removesuffix(".expected.yaml")
        sources = [p for p in folder.glob(name + ".*") if p != expected_path]
        if not sources:
            continue
        expected = yaml.safe_load(expected_path.read_text(encoding="utf-8")) or {}
        want = {int(s["line"]): s for s in expected.get("steps") or []}
        yield sources[0].name, sources[0].read_text(encoding="utf-8"), want


def _manifest(path: Path, mirror: Path, subset: str | None) -> Iterator[Labelled]:
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        if subset and entry.get("set") != subset:
            continue
        repo = mirror / entry["repo"].replace("/", "+", 1) / "repo"
        git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
        shown = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{entry['commit']}:{entry['path']}"],
            capture_output=True,
            check=False,
        )
        if shown.returncode != 0:
            print(f"{entry['repo']}: not fetched under {mirror} (skipped)")
            continue
        want = {int(k): {"kind": v, "command": ""} for k, v in entry["labels"].items()}
        yield entry["repo"], shown.stdout.decode("utf-8", "replace"), want


def score(folder: Path, show: bool) -> tuple[int, int, int, int, int]:
    """(labelled, found, matched, same kind, readmes) over the folder; prints mismatches."""
    return score_all(_folder(folder), show)


def score_all(readmes_in: Iterator[Labelled], show: bool) -> tuple[int, int, int, int, int]:
    """(labelled, found, matched, same kind, readmes) over labelled READMEs."""
    labelled = found = matched = same = readmes = 0
    for name, text, want in readmes_in:
        steps, _ = parse_readme(text, name if "." in name.rsplit("/", 1)[-1] else "README.md")
        got = {s.source_line: s for s in steps}
        readmes += 1
        labelled += len(want)
        found += len(got)
        for line, step in got.items():
            label = want.get(line)
            if label is None:
                if show:
                    print(f"{name}:{line}: invented: {step.command.splitlines()[0]!r}")
                continue
            matched += 1
            if step.kind.value == label["kind"]:
                same += 1
            elif show:
                print(
                    f"{name}:{line}: kind {step.kind.value} (human: {label['kind']}): "
                    f"{step.command.splitlines()[0]!r} ({step.reason})"
                )
        if show:
            for line, label in want.items():
                if line not in got:
                    print(f"{name}:{line}: missed: {label['command']!r}")
    return labelled, found, matched, same, readmes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[HERE / "readmes"])
    parser.add_argument("--show", action="store_true", help="list every disagreement")
    parser.add_argument("--manifest", type=Path, help="real READMEs: repository, commit, labels")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--set", dest="subset", help="only the manifest entries of this set")
    args = parser.parse_args(argv)
    totals = [0, 0, 0, 0, 0]
    sources = (
        [_manifest(args.manifest, args.mirror, args.subset)]
        if args.manifest
        else [_folder(folder) for folder in args.folders]
    )
    for source in sources:
        for i, value in enumerate(score_all(source, args.show)):
            totals[i] += value
    labelled, found, matched, same, readmes = totals

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}%" if b else "n/a"

    print(
        f"{readmes} READMEs, {labelled} labelled commands, {found} found: "
        f"recall {pct(matched, labelled)} ({matched}/{labelled}), "
        f"precision {pct(matched, found)} ({matched}/{found}), "
        f"kind agreement {pct(same, matched)} ({same}/{matched})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
