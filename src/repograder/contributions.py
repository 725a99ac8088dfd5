"""Who contributed: per member, commits, files touched and lines added/removed. Pure.

The figures come from git data only (``git.py`` reads ``git log --numstat`` of the graded history:
every commit reachable from the graded commit; late commits are not in it). Authors are matched
to members by name and e-mail, case-insensitively, plus the group's ``aliases:`` in groups.yaml
(other names or e-mails a member committed under, e.g. a GitHub noreply address). Merge commits
are counted separately (they carry no lines of their own), and bulk files (vendored code, data,
binaries, generated files) are counted apart from the lines a person wrote, so that committing a
dataset does not look like work. Members with no commit are flagged.

These figures are for the lecturer's judgement and are never part of the score.

Bulk rules: the vendored-path idea follows GitHub linguist's ``vendor.yml`` (vendor/,
third_party/, node_modules/, virtual environments); data and binary extensions are those of
the datasets, model weights and media student projects commit; a single file change of more than
BULK_LINES lines is treated as generated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from repograder.config import Member
from repograder.model import CommitStat, FileChange, JSONDict, JSONValue

__all__ = ["BULK_LINES", "is_bulk", "summarise"]

BULK_LINES = 5000  # one file change with more added+removed lines than this is bulk

_VENDOR_DIRS = frozenset(
    {
        "vendor",
        "vendors",
        "third_party",
        "thirdparty",
        "third-party",
        "external",
        "node_modules",
        "bower_components",
        "site-packages",
        ".venv",
        "venv",
        "__pycache__",
        ".ipynb_checkpoints",
        "data",
        "dataset",
        "datasets",
    }
)
_DATA_SUFFIXES = frozenset(
    {
        ".csv",
        ".tsv",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".h5",
        ".hdf5",
        ".parquet",
        ".feather",
        ".arrow",
        ".pt",
        ".pth",
        ".ckpt",
        ".onnx",
        ".safetensors",
        ".bin",
        ".wav",
        ".mp3",
        ".flac",
        ".ogg",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".pdf",
        ".zip",
        ".gz",
        ".tar",
        ".7z",
        ".lock",
    }
)


def is_bulk(change: FileChange) -> bool:
    """Vendored, data, binary or generated: counted apart from the lines a person wrote."""
    if change.added is None or change.removed is None:
        return True  # binary
    path = PurePosixPath(change.path)
    if any(part.lower() in _VENDOR_DIRS for part in path.parts[:-1]):
        return True
    name = path.name.lower()
    if path.suffix.lower() in _DATA_SUFFIXES or name.endswith((".min.js", ".min.css")):
        return True
    return change.added + change.removed > BULK_LINES


@dataclass
class _Tally:
    commits: int = 0
    merges: int = 0
    added: int = 0
    removed: int = 0
    bulk_added: int = 0
    bulk_removed: int = 0
    files: set[str] = field(default_factory=set)
    bulk_files: set[str] = field(default_factory=set)
    identities: dict[str, None] = field(default_factory=dict)
    first: str = ""
    last: str = ""

    def add(self, commit: CommitStat) -> None:
        self.identities.setdefault(f"{commit.author_name} <{commit.author_email}>", None)
        self.first = min(self.first, commit.date) if self.first else commit.date
        self.last = max(self.last, commit.date)
        if commit.parents > 1:
            self.merges += 1
            return
        self.commits += 1
        for change in commit.files:
            if is_bulk(change):
                self.bulk_files.add(change.path)
                self.bulk_added += change.added or 0
                self.bulk_removed += change.removed or 0
            else:
                self.files.add(change.path)
                self.added += change.added or 0
                self.removed += change.removed or 0

    def to_json(self) -> JSONDict:
        return {
            "commits": self.commits,
            "merges": self.merges,
            "files": len(self.files),
            "added": self.added,
            "removed": self.removed,
            "bulk_files": len(self.bulk_files),
            "bulk_added": self.bulk_added,
            "bulk_removed": self.bulk_removed,
            "first_commit": self.first or None,
            "last_commit": self.last or None,
            "identities": list(self.identities),
        }


def _keys(member: Member, aliases: Iterable[str]) -> set[str]:
    keys = {member.name.casefold()}
    if member.email:
        keys.add(member.email.casefold())
    keys.update(a.strip().casefold() for a in aliases if a.strip())
    return keys


def summarise(
    history: Sequence[CommitStat],
    people: Sequence[Member],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> JSONDict:
    """The ``contributions`` object of results.json for one group (empty without history).

    ``members`` lists every member in groups.yaml order (``no_commits`` true for those without a
    commit or merge); ``others`` lists author identities that matched no member (a bot, a
    tutor, an unlisted alias).
    """
    if not history:
        return {}
    aliases = aliases or {}
    keys = [(m, _keys(m, aliases.get(m.name, ()))) for m in people]
    tallies = {m.name: _Tally() for m in people}
    others: dict[str, _Tally] = {}
    for commit in history:
        name, email = commit.author_name.casefold(), commit.author_email.casefold()
        owner = next((m for m, k in keys if name in k or email in k), None)
        if owner is not None:
            tallies[owner.name].add(commit)
        else:
            others.setdefault(f"{commit.author_name} <{commit.author_email}>", _Tally()).add(commit)
    members: list[JSONValue] = []
    for m in people:
        entry = {"name": m.name, **tallies[m.name].to_json()}
        entry["no_commits"] = tallies[m.name].commits + tallies[m.name].merges == 0
        members.append(entry)
    return {
        "commits": sum(1 for c in history if c.parents <= 1),
        "merges": sum(1 for c in history if c.parents > 1),
        "members": members,
        "others": [{"identity": who, **t.to_json()} for who, t in others.items()],
        "bulk_lines_threshold": BULK_LINES,
    }
