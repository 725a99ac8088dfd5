"""HTML pages and the whole output folder: escaping, CSP, artifact links, determinism, errors."""

from __future__ import annotations

import dataclasses
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repograder.errors import InfrastructureError
from repograder.fsutil import group_slug
from repograder.report import (
    CSP,
    parse_artifacts,
    render_group,
    render_index,
    safe_artifact_path,
    write_report,
)
from report_factory import good_group, make_hostile_run, make_run

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    "'><svg onload=alert(1)>{{ 7*7 }}",
]


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "link",
    "title",
    "style",
    "body",
    "main",
    "header",
    "footer",
    "nav",
    "section",
    "article",
    "h1",
    "h2",
    "h3",
    "p",
    "ul",
    "li",
    "b",
    "strong",
    "span",
    "a",
    "div",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "img",
    "iframe",
    # The overview's score histogram: inline SVG shapes and text, no links, no scripts.
    "svg",
    "g",
    "line",
    "rect",
    "text",
}


def _assert_inert(html: str, *, in_groups_dir: bool) -> None:
    """No scripts, no event handlers, every link/src a safe relative path inside the folder."""
    parsed = _parse(html)
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert value is not None
                if tag == "link":
                    assert value == "data:,"
                    continue
                assert ":" not in value, value
                path = value.removeprefix("../") if in_groups_dir else value
                assert not path.startswith("/"), value
                assert ".." not in path.split("/"), value
        if tag == "iframe":
            assert attrs.get("sandbox") == ""


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_text_is_escaped_in_every_file(tmp_path: Path, payload: str) -> None:
    run = make_hostile_run(payload)
    paths = write_report(run, tmp_path)
    assert len(paths) == 5 + len(run.groups)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.name == "grades.csv":
            continue  # plain data for spreadsheets: covered by the CSV tests
        if "<" in payload:
            assert payload not in text, path.name
        if path.suffix == ".html":
            _assert_inert(text, in_groups_dir=path.parent.name == "groups")
            # The text is still there for people to read, literally.
            visible = "".join(_parse(text).text)
            if path.name != "index.html":
                assert payload in visible, path.name
    index = (tmp_path / "index.html").read_text()
    assert "<script" not in index
    assert "<img" not in index
    # The only <svg> is our own histogram (issue 16); a payload's <svg ...> would be a second.
    assert index.count("<svg") == 1
    assert '<svg class="histogram" role="img"' in index
    assert "{{" in index or "{{" not in payload  # template syntax in data is not evaluated
    assert "49" not in "".join(_parse(index).text).replace("2026", "")


def test_every_student_field_appears_escaped_on_group_page() -> None:
    payload = "<script>alert(1)</script>"
    run = make_hostile_run(payload)
    html = render_group(run, run.groups[0])
    visible = "".join(_parse(html).text)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"{payload} graded" in visible
    assert f"{escaped} graded" in html
    for label in (
        "member",
        "subject",
        "title",
        "summary",
        "key",
        "value",
        "item",
        "echo",
        "reason",
        "head",
        "tail",
        "kind",
        "heading",
        "hint",
        "pdf title",
        "nb",
        "Traceback",
        "log",
    ):
        assert f"{label} {payload}" in visible, label
        assert f"{label} {escaped}" in html, label


def test_csp_and_no_script_or_external_resources() -> None:
    run = make_run()
    for html in [render_index(run), *(render_group(run, g) for g in run.groups)]:
        assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html.replace(
            "&#39;", "'"
        )
        assert "<script" not in html
        assert "http://" not in html.split("<body>")[0]
        assert "https://" not in html.split("<body>")[0]
        _assert_inert(html, in_groups_dir=True)


def test_index_contents() -> None:
    run = make_run()
    html = render_index(run)
    text = " ".join(" ".join(_parse(html).text).split())
    assert "Machine Learning for Audio Data" in text
    assert "2026-03-31T23:59:59+02:00" in text
    assert "3 groups · 2 graded · 1 error" in text
    assert "9.5 / 10" in text
    assert "1.5 / 10" in text
    assert "repository not found" in text
    assert "✗ fail" in text
    assert "✓ pass" in text
    assert "– skip" in text
    assert 'href="groups/group-1.html"' in html
    # Groups in the order given.
    assert text.index("group-1") < text.index("group-2") < text.index("group-3")


def test_group_page_contents() -> None:
    run = make_run()
    html = render_group(run, run.groups[1])
    text = " ".join(" ".join(_parse(html).text).split())
    for expected in (
        "group-2",
        "Grace Hopper",
        "1.5 / 10",
        "fix paper length",
        "final final version",
        "paper.pdf has 6 pages",
        "python train.py",
        "◷ timeout",
        "killed after 600 s",
        "Epoch 4812",
        "Hint: pin a torch",
        "10 min 00 s",
        "ModuleNotFoundError",
    ):
        assert expected in text, expected
    assert html.count('<img src="../groups/group-2/paper-') == 6
    assert 'href="../index.html"' in html


def test_group_page_artifacts_links() -> None:
    run = make_run()
    html = render_group(run, run.groups[0])
    assert '<iframe class="notebook" sandbox="" src="../groups/group-1/notebooks/eda.html"' in html
    assert 'href="../logs/group-1/build.log"' in html
    assert 'href="../logs/group-1/step-3.log"' in html


def test_details_rendered_generically() -> None:
    run = make_run()
    html = render_group(run, run.groups[0])
    # list of dicts -> table with the union of keys as columns
    assert "<th>comment_lines</th>" in html
    # dict -> definition list
    assert "<dt>density</dt>" in html
    # scalars list -> items
    assert "<li>Setup" in html


def test_deep_and_huge_details_are_limited() -> None:
    deep: dict[str, object] = {"leaf": "x"}
    for i in range(30):
        deep = {f"level{i}": deep}
    group = good_group()
    check = dataclasses.replace(
        group.checks[0],
        details={"deep": deep, "many": list(range(1000)), "big": "y" * 100_000},  # type: ignore[dict-item]
    )
    run = make_run((dataclasses.replace(group, checks=(check,)),))
    html = render_group(run, run.groups[0])
    assert "… 800 more items" in html
    assert "more characters]" in html
    assert len(html) < 200_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("groups/g/paper-1.png", "groups/g/paper-1.png"),
        ("./logs//build.log", "logs/build.log"),
        ("../../etc/passwd", None),
        ("logs/../../x", None),
        ("/etc/passwd", None),
        ("javascript:alert(1)", None),
        ("https://evil.example/x.png", None),
        ("data:text/html,<script>", None),
        ("C:\\Windows\\x", None),
        ("logs\\..\\x", None),
        ("a?b", None),
        ("a#b", None),
        ("a\nb", None),
        ("", None),
        (".", None),
        (None, None),
        (3, None),
        (["a"], None),
    ],
)
def test_safe_artifact_path(value: object, expected: str | None) -> None:
    assert safe_artifact_path(value) == expected


def test_unsafe_artifact_paths_are_dropped() -> None:
    arts = parse_artifacts(
        {
            "paper": {"thumbnails": ["../../etc/passwd", "ok/p1.png", "javascript:alert(1)"]},
            "notebooks": [{"path": "a.ipynb", "html": "/etc/passwd", "status": "ok"}, "junk"],
            "logs": {"build": "../build.log", "ok": "logs/ok log.txt"},
        }
    )
    assert [t.path for t in arts.thumbnails] == ["ok/p1.png"]
    assert arts.notebooks[0].html is None
    assert [(x.label, x.path) for x in arts.logs] == [("ok", "logs/ok log.txt")]
    run = make_run(
        (
            dataclasses.replace(
                good_group(),
                artifacts={"logs": {"build": "../../etc/passwd", "ok": "logs/ok log.txt"}},
            ),
        )
    )
    html = render_group(run, run.groups[0])
    assert "etc/passwd" not in html
    assert 'href="../logs/ok%20log.txt"' in html


def test_write_report_layout_and_determinism(tmp_path: Path) -> None:
    run = make_run()
    first = write_report(run, tmp_path / "a")
    second = write_report(run, tmp_path / "b")
    names = [p.relative_to(tmp_path / "a").as_posix() for p in first]
    assert names == [
        "results.json",
        "index.html",
        "groups/group-1.html",
        "groups/group-2.html",
        "groups/group-3.html",
        "grades.csv",
        "junit.xml",
        "summary.md",
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    # Rewriting in place works and leaves no temp files behind.
    write_report(run, tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "grades.csv",
        "groups",
        "index.html",
        "junit.xml",
        "results.json",
        "summary.md",
    ]


def test_group_page_names_use_the_group_slug(tmp_path: Path) -> None:
    run = make_hostile_run("<script>")
    paths = write_report(run, tmp_path)
    for group in run.groups:
        page = tmp_path / "groups" / f"{group_slug(group.name)}.html"
        assert page in paths
        assert page.is_file()
        assert (
            f'href="groups/{group_slug(group.name)}.html"' in (tmp_path / "index.html").read_text()
        )


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InfrastructureError, match="cannot create the output folder"):
        write_report(make_run(), blocker / "report")


def test_output_folder_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "groups").write_text("in the way")
    with pytest.raises(InfrastructureError):
        write_report(make_run(), out)
