"""Which system libraries do distributions' wheels link without bundling them? (ldd, as
auditwheel sees them.) The data behind the "linked" rows of repograder.syslibs.TABLE.

usage: python benchmarks/syslibs_scan.py DIST [DIST...]

Installs the distributions into a fresh venv in a throw-away container of the sandbox base
image (with the host's CA bundle and index settings), runs ``ldd`` on every shared object they
installed and prints, per distribution, the sonames ldd reports as ``not found`` with the
Debian package that ships them when syslibs.SONAME_PACKAGES knows it (else: look it up with
``apt-file search <soname>`` and add it there, with its source). Libraries loaded with
dlopen (cffi/ctypes) are invisible to ldd: those rows cite the package's source instead.
"""

from __future__ import annotations

import subprocess
import sys

from repograder.sandbox import docker as sd
from repograder.sandbox.hostconfig import CONTAINER_CA_PATH, container_env, detect_host_settings
from repograder.syslibs import debian_package_of

SCRIPT = r"""
set -e
unset PIP_PREFIX
python3 -m venv /tmp/v >/dev/null
/tmp/v/bin/pip install -q --no-cache-dir "$@" >/dev/null
site=$(/tmp/v/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for so in $(find "$site" -name '*.so*' -type f); do
  ldd "$so" 2>/dev/null | awk -v f="${so#$site/}" '/not found/ {print f" "$1}'
done | sort -u
"""


def main() -> int:
    dists = sys.argv[1:]
    if not dists:
        print(__doc__)
        return 2
    host = detect_host_settings()
    cmd = ["docker", "run", "--rm", "--label", "repograder=1"]
    if host.ca_bundle:
        cmd += ["-v", f"{host.ca_bundle}:{CONTAINER_CA_PATH}:ro"]
    for mount in host.mounts:
        cmd += ["-v", f"{mount.source}:{mount.target}:ro"]
    for key, value in container_env(host).items():
        cmd += ["-e", f"{key}={value}"]
    cmd += [sd.BASE_IMAGE, "bash", "-c", SCRIPT, "scan", *dists]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    for line in proc.stdout.splitlines():
        path, soname = line.split(" ", 1)
        package = debian_package_of(soname) or "? (apt-file search " + soname + ")"
        print(f"{path.split('/')[0]:30} {soname:28} {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
