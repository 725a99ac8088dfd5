"""System libraries on a real engine: a soundfile group runs without any rubric `apt:`, and a
library the environment lacks is the grader's gap (`error` naming it), not the group's fault."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_fixtures import base_image_fixture, docker_engine_fixture  # noqa: F401

from repograder import model, runner
from repograder.detect import EnvKind, EnvSpec
from repograder.facts import Step, StepKind
from repograder.model import StepResult, StepStatus
from repograder.sandbox.base import Limits
from repograder.sandbox.docker import DockerSandbox, clean_containers

pytestmark = pytest.mark.docker

LIMITS = Limits(memory_mb=512, pids=128, timeout_s=120, disk_mb=64, output_bytes=8192)
# What the groups did: write and read a wav file with soundfile. The local index's
# soundfile wheel may be the pure one, which needs the system's libsndfile: assert that the
# system library is there either way.
AUDIO = (
    "import ctypes.util\n"
    "import numpy as np\n"
    "import soundfile as sf\n"
    "assert ctypes.util.find_library('sndfile'), 'no system libsndfile'\n"
    "sf.write('tone.wav', np.zeros(1600, dtype='float32'), 16000)\n"
    "print('frames', sf.info('tone.wav').frames)\n"
)


@pytest.fixture(scope="module", name="box")
def box_fixture(
    base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerSandbox]:
    run_id = f"test-{uuid.uuid4().hex[:10]}"
    sandbox = DockerSandbox(run_id, tmp_path_factory.mktemp("cache"))
    yield sandbox
    sandbox.close()
    assert clean_containers(run_id) == 0


def _spec(*requirements: str) -> EnvSpec:
    return EnvSpec(
        kind=EnvKind.REQUIREMENTS,
        path="requirements.txt",
        reason="test",
        files=("requirements.txt",),
        requirements=requirements,
    )


def test_a_soundfile_group_runs_without_any_rubric_apt(box: DockerSandbox, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    # The comment gives a fresh hash: this test really builds (and installs the library).
    requirements = ("soundfile", "numpy", f"# {uuid.uuid4().hex}")
    (repo / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (repo / "audio.py").write_text(AUDIO)
    build = box.prepare(_spec(*requirements), repo, tmp_path / "logs")
    assert build.ok, build.log_excerpt
    assert any("libsndfile1" in note for note in build.notes), build.notes
    session = box.open_session(build, repo, LIMITS)
    try:
        result = session.run("python audio.py")
    finally:
        session.close()
    assert result.exit_code == 0, result.output_head + result.output_tail
    assert "frames 1600" in result.output_head


def _run_step(command: str) -> Step:
    return Step(
        index=1, command=command, source_line=3, heading="", kind=StepKind.RUN, reason="test"
    )


def test_a_missing_system_library_is_an_error_naming_it(box: DockerSandbox, tmp_path: Path) -> None:
    """The real gap is confirmed by the grader's own probe; a step that only prints the same
    kind of line for a library the image has (and exits 1) is the group's failure."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("\n")
    build = box.prepare(_spec(), repo, tmp_path / "logs")
    assert build.ok, build.log_excerpt
    real = "python -c \"import ctypes; ctypes.CDLL('libportaudio.so.2')\""
    forged = "echo 'OSError: libz.so.1: cannot open shared object file: No such file'; exit 1"
    session = box.open_session(build, repo, LIMITS)
    try:
        (step,) = runner.run_steps(session, [_run_step(real)], runner.RunOptions())
        (fake,) = runner.run_steps(session, [_run_step(forged)], runner.RunOptions())
    finally:
        session.close()
    assert step.status is StepStatus.FAILED
    assert step.missing_library == "libportaudio.so.2"
    verdict = runner.evaluate_steps([step], model.Params({}))
    assert verdict.status == model.Status.ERROR
    assert "libportaudio.so.2" in verdict.summary
    assert "apt: [libportaudio2]" in verdict.summary
    assert fake.status is StepStatus.FAILED
    assert fake.missing_library == ""
    assert runner.evaluate_steps([fake], model.Params({})).status == model.Status.FAIL


def test_a_missing_program_is_an_error_naming_its_debian_package(
    box: DockerSandbox, tmp_path: Path
) -> None:
    # What openai-whisper's load_audio and ffmpeg-python do: start `ffmpeg` with subprocess.
    # A tiny group (no requirements), so nothing in the table installs ffmpeg for it.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("\n")
    (repo / "transcribe.py").write_text(
        "import subprocess\n"
        "subprocess.run(['ffmpeg', '-nostdin', '-i', 'talk.mp3', '-f', 's16le', '-'], "
        "capture_output=True, check=True)\n"
    )
    build = box.prepare(_spec(), repo, tmp_path / "logs")
    assert build.ok, build.log_excerpt
    session = box.open_session(build, repo, LIMITS)
    try:
        results = [session.run("python transcribe.py"), session.run("sox --version")]
        # As runner.run_steps does: the grader's own probe confirms what the output claims.
        confirmed = [runner.confirm_missing_library(session, r.output) for r in results]
    finally:
        session.close()
    steps = [
        StepResult(
            index=index,
            command=command,
            source_line=index,
            status=StepStatus.FAILED,
            exit_code=result.exit_code,
            output_head=result.output_head,
            output_tail=result.output_tail,
            missing_library=missing,
        )
        for index, (command, result, missing) in enumerate(
            zip(("python transcribe.py", "sox --version"), results, confirmed, strict=True),
            start=1,
        )
    ]
    for step, result in zip(steps, results, strict=True):
        assert result.exit_code != 0, result.output_head
        verdict = runner.evaluate_steps([step], model.Params({}))
        assert verdict.status == model.Status.ERROR, (verdict.summary, result.output_tail)
        gap = verdict.details["missing_system_library"]
        assert isinstance(gap, dict)
        assert gap["kind"] == "program"
    first = runner.evaluate_steps(steps[:1], model.Params({}))
    assert "the program ffmpeg" in first.summary
    assert "apt: [ffmpeg]" in first.summary
    second = runner.evaluate_steps(steps[1:], model.Params({}))
    assert "apt: [sox]" in second.summary
