#!/usr/bin/env bash
# Run the test suite: set-up with the test tools (see scripts/setup.sh), then pytest.
# Docker- and browser-marked tests run for real; with CI=true a missing engine or browser fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/python -m pytest "$@"
