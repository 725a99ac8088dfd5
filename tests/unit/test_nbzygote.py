"""The notebook renderer's zygote: one import, a limited process per page, restarts when late."""

from __future__ import annotations

import os
import re
import signal

from notebook_files import code, notebook_json
from repograder import nbrender, nbzygote


def _page(text: str, outputs: int = 1) -> bytes:
    stream = {"output_type": "stream", "name": "stdout", "text": text}
    return notebook_json([code("print(1)", [stream] * outputs)]).encode()


def test_pages_render_in_one_zygote_each_as_the_renderer_would_in_process() -> None:
    zygote = nbzygote.Zygote()
    try:
        bodies = [
            zygote.render(_page(f"<b>page {i}</b>"), nbrender.RENDER_MEMORY_BYTES, 60)
            for i in range(3)
        ]
        assert zygote.started == 1  # the import is paid once, not per notebook
        for i, body in enumerate(bodies):
            assert body is not None
            alone = nbrender._render_body(_page(f"<b>page {i}</b>"))
            assert alone is not None
            assert _without_cell_ids(body) == _without_cell_ids(alone)
            assert f"&lt;b&gt;page {i}&lt;/b&gt;" in body
    finally:
        zygote.close()


def _without_cell_ids(body: str) -> str:
    return re.sub(r'id="cell-id=[0-9a-f]+"', "", body)


def test_a_page_over_its_memory_limit_fails_alone() -> None:
    zygote = nbzygote.Zygote()
    try:
        # 64 MB of address space, less than the zygote's own: the page's process cannot grow
        # (this page needs about 100 MB more to render).
        assert zygote.render(_page("<b>w</b> " * 3000, 8), 64 << 20, 60) is None
        # The page's own process ended; the zygote answers the next page as before.
        assert zygote.render(_page("small"), nbrender.RENDER_MEMORY_BYTES, 60) is not None
        assert zygote.started == 1
    finally:
        zygote.close()


def test_a_late_page_ends_the_zygote_and_the_next_page_starts_a_new_one() -> None:
    zygote = nbzygote.Zygote()
    try:
        assert zygote.render(_page("warm"), nbrender.RENDER_MEMORY_BYTES, 60) is not None
        assert zygote.render(_page("late"), nbrender.RENDER_MEMORY_BYTES, 0.0) is None
        assert zygote.render(_page("next"), nbrender.RENDER_MEMORY_BYTES, 60) is not None
        assert zygote.started == 2
    finally:
        zygote.close()


def test_a_zygote_that_died_between_pages_is_started_again() -> None:
    zygote = nbzygote.Zygote()
    try:
        assert zygote.render(_page("one"), nbrender.RENDER_MEMORY_BYTES, 60) is not None
        proc = zygote._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert zygote.render(_page("two"), nbrender.RENDER_MEMORY_BYTES, 60) is not None
        assert zygote.started == 2
    finally:
        zygote.close()
    assert proc.poll() is not None
