"""Compiled report templates kept between runs in the grader's cache folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.report import html, write_report
from report_factory import make_run

PAGES = ["index.html", "groups"]


@pytest.fixture(autouse=True)
def _no_cache_after() -> Iterator[None]:
    yield
    html.use_template_cache(None)


def _pages(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.html") if p.is_file()
    }


def test_a_second_run_renders_from_the_compiled_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache" / "templates"
    write_report(make_run(), tmp_path / "plain")
    write_report(make_run(), tmp_path / "first", cache)
    assert any(cache.iterdir())
    # a new process: nothing compiled in memory, and compiling is not allowed
    html.use_template_cache(None)

    def no_compile(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a template was compiled again")

    monkeypatch.setattr(jinja2.Environment, "compile", no_compile)
    write_report(make_run(), tmp_path / "second", cache)
    assert _pages(tmp_path / "second") == _pages(tmp_path / "plain")


def test_an_edited_template_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "templates"
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "t.j2").write_text("one {{ x }}")
    bcc = html._TemplateCache(str(cache))

    def render() -> str:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), bytecode_cache=bcc)
        return env.get_template("t.j2").render(x=1)

    assert render() == "one 1"
    (folder / "t.j2").write_text("two {{ x }}")
    assert render() == "two 1"


def test_a_cache_folder_that_cannot_be_written_costs_nothing_but_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    write_report(make_run(), tmp_path / "out", blocker / "templates")
    write_report(make_run(), tmp_path / "plain")
    assert _pages(tmp_path / "out") == _pages(tmp_path / "plain")
