"""The content hash that names a built environment (the cache key of env builds).

It lives apart from :mod:`repograder.detect` so that the sandbox backends, which key their
caches by it, need no inspector (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from repograder import fsutil
from repograder.facts import EnvSpec

MAX_HASHED_FILE_BYTES = 20_000_000


def content_hash(spec: EnvSpec, root: Path) -> str:
    """sha256 of everything the environment build depends on (not the project's source)."""
    digest = hashlib.sha256()
    header = {
        "kind": spec.kind.value,
        "requirements": list(spec.requirements),
        "constraints": list(spec.constraints),
        "apt": list(spec.apt_packages),
        "build_requires": list(spec.build_requires),
        "python": spec.python_version,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for rel in sorted(spec.files):
        data = fsutil.read_bytes(root, rel, MAX_HASHED_FILE_BYTES)
        digest.update(b"\0file\0" + rel.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(hashlib.sha256(data).digest() if data is not None else b"<missing>")
    return digest.hexdigest()
