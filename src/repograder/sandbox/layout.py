"""Where things live inside a sandbox image and container: build and state folders, the venv's
Python, the session prefix, the layer's seed file, the warm-up's HOME, the numba cache.

Pure constants, shared by the build plan, the install scripts and the pin relaxation.
"""

from __future__ import annotations

BUILD_DIR = "/tmp/rg-build"  # noqa: S108
STATE_DIR = "/tmp/rg-state"  # noqa: S108  # lock and snapshots shared by the build's sections
PRIVATE_UV_CACHE = "/tmp/rg-uv-private"  # noqa: S108  # the student user's throw-away uv cache
VENV_PYTHON = "/opt/venv/bin/python"
SESSION_PREFIX = "/home/student/.local/repograder"
SEED_FILE = "/opt/venv/.repograder-seed"  # the bare venv's packages, kept by layered builds
# HOME of the shared layer's warm-up commands: a tmpfs in the build container, as in sessions,
# so the caches it fills (numba JIT, matplotlib fonts) have their sessions' paths. Kept on the
# host as a tar (not in the image: it is filled while the layer is committed) and unpacked into
# every session's home.
WARM_HOME = "/home/student"
NUMBA_CACHE = "/home/student/.cache/numba"  # in-tree caches need a writable site-packages
