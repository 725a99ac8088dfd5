"""Which system libraries do distributions' wheels link without bundling them? (ldd, as
auditwheel sees them.) The data behind the "linked" rows of repograder.syslibs.TABLE.

usage: python benchmarks/syslibs_scan.py DIST [DIST...]

Installs each distribution into its own fresh venv in a throw-away container of the sandbox
base image (with the host's CA bundle and index settings; one that does not install is
reported and the others go on), runs ``ldd`` on every shared object it installed and prints,
per distribution, how many it scanned and the sonames ldd reports as ``not found`` with the
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
unset PIP_PREFIX
for dist in "$@"; do
  v=/tmp/v-$dist
  python3 -m venv "$v" >/dev/null
  if ! "$v/bin/pip" install -q --no-cache-dir "$dist" >/tmp/pip-$dist.log 2>&1; then
    echo "$dist INSTALL-FAILED $(grep -m1 -E '^ERROR' /tmp/pip-$dist.log | tr ' ' '_')"
    continue
  fi
  site=$("$v/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  n=0
  for so in $(find "$site" -name '*.so*' -type f); do
    n=$((n+1))
    ldd "$so" 2>/dev/null | awk -v d="$dist" -v f="${so#$site/}" '/not found/ {print d" "f" "$1}'
  done | sort -u
  echo "$dist SCANNED $(find "$site" -name '*.so*' -type f | wc -l)_shared_objects"
done
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
        dist, path, soname = line.split(" ", 2)
        if path in ("SCANNED", "INSTALL-FAILED"):
            print(f"{dist:24} {path.lower()}: {soname.replace('_', ' ')}")
            continue
        package = debian_package_of(soname) or "? (apt-file search " + soname + ")"
        print(f"{dist:24} {path:52} {soname:28} {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
