#!/usr/bin/env bash
# Run the test suite: set-up with the test tools (see scripts/setup.sh), then pytest.
# Docker- and browser-marked tests run for real; with CI=true a missing engine or browser fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# `python` in tests and sub-processes is the venv's, never whatever else the PATH holds; the
# install tests (tests/install) build the wheel and run it from a fresh venv of their own.
export PATH="$PWD/.venv/bin:$PATH"
# A private temp folder, removed afterwards with rm (which copes with any depth): leftovers of
# other pytest sessions (e.g. the 1100-folder-deep attack repository) never reach this run.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/repograder-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pytest --basetemp="$tmp/pytest" "$@"
