"""The engine module: retries, the exec stream's frames and read timeout, fault translation."""

from __future__ import annotations

import socket
import threading

import docker.errors
import pytest
import requests
import requests.exceptions

from docker_fake import FakeEngine
from repograder.errors import InfrastructureError
from repograder.sandbox.docker import baseimage, engine
from repograder.sandbox.docker.engine import EngineError, iter_frames, retry


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "ENGINE_RETRY_S", 0.0)


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_a_transient_fault_is_retried_and_the_call_goes_through() -> None:
    fake = FakeEngine()
    fake.fail("ping", EngineError("Read timed out. (read timeout=120)", transient=True))
    retry(fake.ping)
    assert fake.calls["ping"] == 2


def test_a_fault_that_is_an_answer_is_raised_at_once() -> None:
    fake = FakeEngine()
    fake.fail("ping", EngineError("404 Client Error: Not Found"))
    with pytest.raises(EngineError, match="404"):
        retry(fake.ping)
    assert fake.calls["ping"] == 1


def test_a_fault_that_persists_is_raised_after_the_last_try() -> None:
    fake = FakeEngine()
    fake.fail("ping", *[EngineError("Connection aborted.", transient=True)] * 5)
    with pytest.raises(InfrastructureError, match="Connection aborted"):
        retry(fake.ping)
    assert fake.calls["ping"] == engine.ENGINE_ATTEMPTS


def test_frames_are_split_by_stream_whatever_the_chunking() -> None:
    ours, theirs = socket.socketpair()
    data = _frame(1, b"hello ") + _frame(2, b"warning") + _frame(1, b"world")

    def send_byte_by_byte() -> None:
        # A frame's header and payload arrive in many pieces.
        for i in range(len(data)):
            theirs.sendall(data[i : i + 1])
        theirs.shutdown(socket.SHUT_WR)

    with ours, theirs:
        sender = threading.Thread(target=send_byte_by_byte)
        sender.start()
        frames = list(iter_frames(ours, 5))
        sender.join()
    assert frames == [(1, b"hello "), (2, b"warning"), (1, b"world")]


def test_a_quiet_stream_past_its_read_timeout_is_an_infrastructure_error() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(_frame(1, b"first"))
        frames = iter_frames(ours, 0.2)
        assert next(frames) == (1, b"first")
        with pytest.raises(InfrastructureError, match="timed out") as caught:
            next(frames)
    assert isinstance(caught.value, EngineError)
    assert not caught.value.transient  # the command may have run: never repeated


def test_no_read_timeout_waits_for_a_slow_answer() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def answer_late() -> None:
            theirs.sendall(_frame(1, b"late"))
            theirs.close()

        timer = threading.Timer(0.5, answer_late)
        timer.start()
        assert list(iter_frames(ours, None)) == [(1, b"late")]
        timer.join()


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.reason = "reason"
        self.url = "http+docker://localhost/v1.45/x"


@pytest.mark.parametrize(
    ("raised", "transient"),
    [
        (
            requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2))"),
            True,
        ),
        (requests.exceptions.ReadTimeout("Read timed out. (read timeout=120)"), True),
        (docker.errors.APIError("500 Server Error", response=_Response(500)), True),
        (docker.errors.NotFound("404 Client Error", response=_Response(404)), False),
        (docker.errors.DockerException("Error while fetching server API version"), False),
    ],
)
def test_sdk_faults_become_engine_errors_with_their_message(
    raised: Exception, transient: bool
) -> None:
    with pytest.raises(EngineError) as caught, engine._translated():
        raise raised
    assert caught.value.transient is transient
    assert str(raised) in str(caught.value)
    assert isinstance(caught.value, InfrastructureError)


def test_base_image_questions_go_to_the_engine() -> None:
    fake = FakeEngine(python="3.11")
    assert baseimage.base_image_available(engine=fake)
    assert baseimage.available_pythons(engine=fake) == ["3.11"]
    assert not baseimage.base_image_available("repograder-base:py3.8", engine=fake)
    lines: list[str] = []
    assert baseimage.build_base_image(engine=fake, log=lines.append) == baseimage.BASE_IMAGE
    assert lines == [f"{baseimage.BASE_IMAGE} exists (use --force to rebuild)"]
    assert "build" not in fake.calls


def test_only_the_engine_module_imports_the_docker_sdk() -> None:
    import ast
    from pathlib import Path

    import repograder

    root = Path(repograder.__file__).parent
    users = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "docker" or n.startswith("docker.") for n in names):
                users.add(path.relative_to(root).as_posix())
    assert users == {"sandbox/docker/engine.py"}
