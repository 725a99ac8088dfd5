"""Small programs the Docker session runs for the grader itself (not student code).

Pure text constants: the session runs them with the image's interpreter by absolute path
(``/opt/venv/bin/python -I -S -c ...``; the root file system is read-only, so nothing a student
writes can replace them), never through the student's saved shell state.

- :data:`HELPER_BOOT` starts one of the grader's helper scripts (e.g. ``data/nbexec.py``):
  ``-S`` skips every ``.pth`` file (the student-writable project prefix under
  ``/home/student/.local`` is added by one), so only the standard library and the
  environment's own ``site-packages`` are importable; ``-I`` keeps the current folder and
  ``PYTHON*`` variables out of ``sys.path``. The script's text is the first argument.
- :data:`END_STUDENT_PROCESSES` runs as uid 1000 after every step and around every helper:
  ``kill(-1, SIGKILL)`` ends every process of that uid except itself (kill(2): "all processes
  for which the calling process has permission to send signals, except for process 1"), then
  it checks ``/proc`` until none but zombies is left. Prints the count left; exit 0 when none.
"""

from __future__ import annotations

HELPER_BOOT = (
    "import glob, os, sys\n"
    "_src = sys.argv.pop(1)\n"
    "_env = os.path.dirname(os.path.dirname(sys.executable))\n"
    "sys.path.extend(sorted(glob.glob(os.path.join(_env, 'lib', 'python*', 'site-packages'))))\n"
    "exec(compile(_src, '<repograder-helper>', 'exec'), {'__name__': '__main__'})\n"
)

END_STUDENT_PROCESSES = r"""
import os, sys, time
me = os.getpid()
uid = os.getuid()

def alive():
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open('/proc/%s/status' % name) as handle:
                fields = dict(line.split(':', 1) for line in handle if ':' in line)
        except (OSError, ValueError):
            continue
        uids = fields.get('Uid', '').split()
        if str(uid) in uids and not fields.get('State', '').strip().startswith(('Z', 'X')):
            found.append(int(name))
    return found

left = []
for attempt in range(100):
    try:
        os.kill(-1, 9)
    except OSError:
        pass
    left = alive()
    if not left:
        break
    time.sleep(0.05)
sys.stdout.write('%d\n' % len(left))
sys.exit(1 if left else 0)
"""
