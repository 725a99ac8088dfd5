"""Jupyter notebooks as JSON text, for tests that commit or execute them (nbformat 4.5)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

Cell = dict[str, object]

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def code(source: str, outputs: Sequence[Mapping[str, object]] = ()) -> Cell:
    """A code cell, not executed, with ``outputs`` stored as if it had been."""
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "source": source,
        "outputs": [dict(o) for o in outputs],
    }


def markdown(source: str) -> Cell:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook_json(cells: Iterable[str | Cell]) -> str:
    """A notebook of ``cells`` (a string is a code cell), ids ``c0``, ``c1``, ... and the
    python3 kernelspec Jupyter writes."""
    numbered = [
        {**(code(cell) if isinstance(cell, str) else cell), "id": f"c{i}"}
        for i, cell in enumerate(cells)
    ]
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": KERNELSPEC},
            "cells": numbered,
        }
    )
