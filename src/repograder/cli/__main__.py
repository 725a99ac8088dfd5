"""``python -m repograder.cli``: the ``repograder`` command."""

from repograder.cli import console_main

console_main()
