#!/usr/bin/env bash
# Run the test suite: set-up with the test tools (see scripts/setup.sh), then pytest.
# Docker- and browser-marked tests run for real; with CI=true a missing engine or browser fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# `python` in tests and sub-processes is the venv's, never whatever else the PATH holds; the
# install tests (tests/install) build the wheel and run it from a fresh venv of their own.
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python -m pytest "$@"
