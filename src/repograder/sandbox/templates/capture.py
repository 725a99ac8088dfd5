"""Run one session step inside the container and capture its output with fixed memory.

Executed by the venv's interpreter with ``-I -S`` as the unprivileged user, once per step:
    capture.py STATE_DIR HEAD_BYTES TAIL_BYTES TIMEOUT_S COMMAND
The step runs in ``bash`` that first restores the session's working directory and exported
variables from STATE_DIR and saves them again on exit, so ``cd``/``export`` carry over. Output
(stdout and stderr merged) keeps the first HEAD_BYTES and last TAIL_BYTES; the middle is only
counted. At the timeout the whole process group is killed. Background processes that keep the
pipe open do not block the step: reading stops shortly after the step's shell exits. Prints one
JSON line: exit code, timed_out, total bytes, head and tail (base64). Exits with the step's exit
code, or TIMEOUT_EXIT when it killed the step at the timeout.

This process runs as the same uid as the step, so a student can forge its JSON line (the
output): the host takes the exit code from the engine's exec inspect and decides a timeout with
its own timer, and ends every student process after the step (docs/SANDBOX.md).
"""

import base64
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time

INNER = r"""
__rg_cmd="$1"
__rg_state="$2"
set --
if [ -f "$__rg_state/env" ]; then . "$__rg_state/env" >/dev/null 2>&1; fi
cd "$(cat "$__rg_state/cwd" 2>/dev/null || echo /work)" 2>/dev/null || cd /work
__rg_save() {
    __rg_rc=$?
    { pwd > "$__rg_state/cwd.tmp" && mv -f "$__rg_state/cwd.tmp" "$__rg_state/cwd"
      export -p | grep -v -E '^declare -x (OLDPWD|PWD|SHLVL|_)=' > "$__rg_state/env.tmp" \
        && mv -f "$__rg_state/env.tmp" "$__rg_state/env"; } >/dev/null 2>&1
    return $__rg_rc
}
trap __rg_save EXIT
eval "$__rg_cmd"
"""

GRACE_S = 1.0  # keep draining this long after the step's shell exited
TIMEOUT_EXIT = 124  # as timeout(1); the host also checks its own clock


def main() -> int:
    state, head_cap, tail_cap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout_s, command = float(sys.argv[4]), sys.argv[5]
    start = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/bash", "-c", INNER, "repograder-step", command, state],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    head = bytearray()
    tail = bytearray()
    total = 0
    eof = False
    timed_out = False
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if not timed_out and exited_at is None and now - start >= timeout_s:
            timed_out = True
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            exited_at = time.monotonic()
        if exited_at is not None and (eof or time.monotonic() - exited_at > GRACE_S):
            break
        if eof:
            time.sleep(0.05)
            continue
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            eof = True
            continue
        total += len(chunk)
        room = head_cap - len(head)
        if room > 0:
            head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            tail += chunk
            if len(tail) > tail_cap:
                del tail[: len(tail) - tail_cap]
    if exited_at is not None and proc.returncode is None:
        proc.poll()
    code = proc.returncode
    if code is not None and code < 0:
        code = 128 - code
    result = {
        "exit": None if timed_out else code,
        "timed_out": timed_out,
        "total": total,
        "duration": time.monotonic() - start,
        "head": base64.b64encode(bytes(head)).decode(),
        "tail": base64.b64encode(bytes(tail)).decode(),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return TIMEOUT_EXIT if timed_out else (code if code is not None else 1) & 0xFF


if __name__ == "__main__":
    sys.exit(main())
