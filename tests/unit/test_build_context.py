"""What a build container receives from a group's files: only sanitized requirement lines.

Root's wheels-only phase runs uv on the rendered requirements file; a group's own file must
never take its place, and no line may point uv at the grader's own files (the shared uv cache,
root's environment, the host's wheel folders).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from repograder.detect import detect_env
from repograder.sandbox import buildplan
from repograder.sandbox.hostconfig import HostSettings

HOST = HostSettings()


def _unpacked(plan: buildplan.BuildPlan) -> dict[str, bytes]:
    """The build folder as `tar -x` leaves it: a later entry of one name wins."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(buildplan.context_tar(plan, HOST))) as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name] = handle.read()
    return files


@pytest.mark.parametrize("folder", ["", "project/"])
def test_a_group_file_named_like_the_rendered_requirements_never_replaces_them(
    tmp_path: Path, folder: str
) -> None:
    # Found by a review: the group's file was unpacked after the sanitized one and replaced
    # it, so root's uv read `-r /uv-cache/CACHEDIR.TAG` (its content came back in the error).
    (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / f"{folder}requirements.txt").write_text("six\n-r .repograder-requirements.txt\n")
    (tmp_path / f"{folder}.repograder-requirements.txt").write_text(
        "six\n-r /uv-cache/CACHEDIR.TAG\n--find-links /opt/wheels\n"
    )
    spec = detect_env(tmp_path)
    assert spec.path == f"{folder}requirements.txt"
    plan = buildplan.make_plan(spec, tmp_path, base_image_id="b", python_version="3.11", host=HOST)
    rendered = _unpacked(plan)[f"repo/{folder}{buildplan.RENDERED_REQUIREMENTS}"].decode()
    assert "/uv-cache" not in rendered, rendered
    assert "/opt/wheels" not in rendered, rendered
    assert "six" in rendered.split()
    assert any("grader's own requirements file" in note for note in plan.notes), plan.notes


@pytest.mark.parametrize(
    "line",
    [
        "-f=/opt/wheels",
        "-f/opt/wheels",
        "-f /opt/wheels",
        "--find-links=file:///opt/wheels",
        "--index-url file:///opt/pypi/simple",
        "--extra-index-url=/opt/pypi/simple",
        "-i/opt/pypi/simple",
        "-ifile:///opt/pypi/simple",
    ],
)
def test_no_spelling_of_a_local_package_source_reaches_the_build(tmp_path: Path, line: str) -> None:
    (tmp_path / "requirements.txt").write_text(f"{line}\nsix\n")
    spec = detect_env(tmp_path)
    assert spec.requirements == ("six",), spec.requirements
    assert any(line in dropped for dropped in spec.dropped), spec.dropped


def test_package_sources_on_the_network_are_kept(tmp_path: Path) -> None:
    lines = [
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        "-fhttps://example.org/wheels/",
        "--index-url=https://pypi.org/simple",
    ]
    (tmp_path / "requirements.txt").write_text("\n".join([*lines, "six"]) + "\n")
    assert detect_env(tmp_path).requirements == (*lines, "six")
