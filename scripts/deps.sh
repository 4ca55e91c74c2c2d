#!/bin/sh
# deps.sh: install the Debian 12 packages that building, running and
# testing nodebak need, when any is missing. Called by `make run` and
# `make test`; safe to run again (it does nothing when all are present).
set -eu

PKGS="build-essential pkg-config libssl-dev zlib1g-dev libarchive-dev
libsqlite3-dev libseccomp-dev libssh-dev libcrypt-dev sqlite3 openssl perl python3
python3-paramiko gdb curl lftp wget tnftp openssh-client procps
openssh-server postgresql-15 postgresql-client-15 libpq-dev util-linux
strace python3-prometheus-client libjansson-dev libedit-dev age systemd tmux
clang libclang-rt-14-dev debhelper dpkg-dev devscripts lintian fakeroot
putty-tools libcurl4-openssl-dev libxml2-dev ceph-mon ceph-osd radosgw
ceph-common s3cmd faketime"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run as root: apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
