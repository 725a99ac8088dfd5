#!/bin/sh
# Shared layout of every repograder base image (online and offline): run as root at image build.
# A venv at /opt/venv owned by the unprivileged user `student` (uid 1000), /work for the checkout
# copy, /uv-cache as the mount point of the shared uv cache volume (a new named volume copies
# this folder's owner, so uid 1000 can write the cache).
set -eu
id -u student >/dev/null 2>&1 || useradd --uid 1000 --user-group --create-home --home-dir /home/student --shell /bin/bash student
python3 -m venv /opt/venv
py_minor=$(/opt/venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Sessions run on a read-only root file system; a project installed at session start (and any
# `pip install` a README runs) goes to a prefix on the writable home tmpfs, which this hook adds
# to the venv's sys.path.
prefix=/home/student/.local/repograder
echo "import site; site.addsitedir('$prefix/lib/python$py_minor/site-packages')" \
    > "/opt/venv/lib/python$py_minor/site-packages/_repograder_prefix.pth"
mkdir -p /work /uv-cache /etc/repograder
chown -R 1000:1000 /opt/venv /work /uv-cache /home/student
echo "$py_minor" > /etc/repograder/python-version
