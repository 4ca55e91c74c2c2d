#!/bin/sh
# rehearsal.sh [N]: a rehearsal of the database-cluster certificate renewal
# (README.md, "Rehearsing the renewal"), run by `make run CLUSTER=3`. N
# nodes (default 3) on 127.0.0.2 and up, each with its own PostgreSQL
# server, nodebak-snapshotd and nodebak-ftpd (SFTP), form a real cluster
# (cms1 the master) with certificates that expire a few seconds later; the
# replicas are restarted so that they no longer reach the master, as on an
# appliance whose certificates expired. Renewed certificates wait in
# rehearsal/renewed/. Everything lives in one folder (rehearsal/, or
# $REHEARSAL_DIR); a stop (Ctrl-C, SIGTERM) stops every process and server
# it started and removes that folder. Needs root: the servers run as the
# postgres user. $REHEARSAL_SFTP_PORT (2222) and $REHEARSAL_PG_PORT (5432)
# choose the ports, the same on every node's address.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-3}
dir=${REHEARSAL_DIR:-$top/rehearsal}
sftp_port=${REHEARSAL_SFTP_PORT:-2222}
pg_port=${REHEARSAL_PG_PORT:-5432}
# How long the first certificates are valid: long enough to form the
# cluster, short enough not to keep the operator waiting.
validity=${REHEARSAL_CERT_SECONDS:-25}
nb=$top/bin/nodebak
certs="dbclusterserver.key dbclusterserver.cer dbclusterclient.key dbclusterclient.cer CA.cer"

die() {
	echo "rehearsal: $*" >&2
	exit 1
}

case $count in
[2-9]) ;;
*) die "CLUSTER=$count: expected 2 to 9 nodes (3 or another odd number is recommended)" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root: each node's PostgreSQL server runs as the postgres user"
id postgres >/dev/null 2>&1 || die "no postgres user: install Debian's postgresql package (make deps)"
for prog in nodebak nodebak-snapshotd nodebak-ftpd; do
	[ -x "$top/bin/$prog" ] || die "no $top/bin/$prog: build first (make)"
done
[ ! -e "$dir" ] || die "$dir exists: a rehearsal is running, or a stopped one left it; remove it first"

addr() { echo "127.0.0.$(($1 + 1))"; }
conf() { echo "$dir/cms$1/nodebak.conf"; }

# Every process this script starts, and how to stop them: the daemons by
# their pid (nodebak-snapshotd stops its PostgreSQL server when it exits);
# a server left behind by a daemon that died, by its postmaster.pid.
snap_pids=""
ftpd_pids=""
cleanup() {
	trap - EXIT INT TERM
	# A failed start: the logs' last lines, before the folder goes.
	case $1 in
	0 | 130 | 143) ;;
	*)
		for log in "$dir"/cms*/*.log "$dir"/cms*/state/pgrun/server.log; do
			[ -f "$log" ] || continue
			echo "rehearsal: ${log#"$dir"/}:" >&2
			tail -n 5 "$log" >&2
		done ;;
	esac
	echo "rehearsal: stopping the nodes" >&2
	for p in $ftpd_pids $snap_pids; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $ftpd_pids $snap_pids; do
		wait "$p" 2>/dev/null || true
	done
	for pidfile in "$dir"/cms*/state/pgdata/postmaster.pid; do
		[ -f "$pidfile" ] || continue
		p=$(head -n 1 "$pidfile")
		kill -QUIT "$p" 2>/dev/null || continue
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	done
	rm -rf "$dir"
	echo "rehearsal: stopped; $dir removed" >&2
}
trap 'cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_snapshotd() {
	"$top/bin/nodebak-snapshotd" -f -c "$(conf "$1")" \
		>>"$dir/cms$1/snapshotd.log" 2>&1 &
	eval "snap_pid_$1=$!"
	snap_pids="$snap_pids $!"
	i=0
	until [ -S "$dir/cms$1/snapshotd.sock" ]; do
		kill -0 "$!" 2>/dev/null || die "cms$1: nodebak-snapshotd exited (is port \
$pg_port free on $(addr "$1")? REHEARSAL_PG_PORT chooses another)"
		[ $i -lt 1200 ] || die "cms$1: nodebak-snapshotd did not start in 120 s"
		sleep 0.1
		i=$((i + 1))
	done
}

# Wait until the node's last cluster command has ended; fail unless it
# succeeded.
settle() {
	i=0
	while :; do
		out=$("$nb" -c "$(conf "$1")" database cluster status)
		case $out in
		*"($2)"*) return 0 ;;
		*"(Failed)"*) die "cms$1: $(echo "$out" | head -n 1)" ;;
		esac
		[ $i -lt 1800 ] || die "cms$1: database cluster status did not settle in 180 s"
		sleep 0.1
		i=$((i + 1))
	done
}

mkdir -p "$dir"
chmod 0711 "$dir"	# the postgres user must reach each state/pgdata
ssh-keygen -q -t ed25519 -N '' -C operator@rehearsal -f "$dir/operator_ed25519"

echo "rehearsal: starting $count nodes on $(addr 1)-$(addr "$count")" >&2
n=1
while [ $n -le "$count" ]; do
	nd=$dir/cms$n
	mkdir -p "$nd/files/backups" "$nd/state"
	chmod 0700 "$nd/state"
	cat >"$(conf $n)" <<CONF
# nodebak rehearsal node cms$n (scripts/rehearsal.sh; docs/man/nodebak.conf.5)
[node]
name = cms$n
state_dir = state
files_dir = files

[database]
engine = postgresql
pg_port = $pg_port

[snapshotd]
socket = snapshotd.sock

[cluster]
interface_a = $(addr $n)

[ftpd]
ftp_listen =
sftp_listen = $(addr $n):$sftp_port
tls_cert = state/ftpd.crt
tls_key = state/ftpd.key
host_key = state/ssh_host_ed25519_key
users = state/users
CONF
	"$top/bin/nodebak-snapshotd" -c "$(conf $n)" --init >>"$nd/snapshotd.log" 2>&1 ||
		die "cms$n: nodebak-snapshotd --init failed"
	start_snapshotd $n
	printf 'rehearsal-admin\n' | "$nb" -c "$(conf $n)" user add admin admin \
		--password-stdin >/dev/null
	"$nb" -c "$(conf $n)" user key add admin "$dir/operator_ed25519.pub" >/dev/null
	"$top/bin/nodebak-ftpd" -f -c "$(conf $n)" >>"$nd/ftpd.log" 2>&1 &
	ftpd_pids="$ftpd_pids $!"
	n=$((n + 1))
done

# The master's sample data, which the replicas copy when they join.
psql -X -q -h "$dir/cms1/state/pgrun" -p "$pg_port" -U postgres -d nodebak <<SQL
INSERT INTO spaces(name, uri, passcode) VALUES
  ('All hands', 'allhands', '1234'), ('Support', 'support', NULL),
  ('Engineering', 'eng', '9876');
INSERT INTO users(jid, name) VALUES
  ('alice@example.com', 'Alice'), ('bob@example.com', 'Bob');
INSERT INTO node_meta(key, value) VALUES ('deployment', 'rehearsal');
SQL

# A real cluster with certificates about to expire.
echo "rehearsal: forming the cluster (its certificates expire in $validity s)" >&2
sh "$top/scripts/mkcerts.sh" "$dir/expiring" "soon:$validity"
expires=$(($(date +%s) + validity))
n=1
while [ $n -le "$count" ]; do
	for f in $certs; do
		cp "$dir/expiring/$f" "$dir/cms$n/files/$f"
	done
	# shellcheck disable=SC2086
	"$nb" -c "$(conf $n)" database cluster certs $certs >/dev/null
	n=$((n + 1))
done
"$nb" -c "$(conf 1)" database cluster initialize --yes >/dev/null
settle 1 Success
n=2
while [ $n -le "$count" ]; do
	"$nb" -c "$(conf $n)" database cluster join "$(addr 1)" --yes >/dev/null
	settle $n Success
	n=$((n + 1))
done
rm -rf "$dir/expiring"

# They expire; restarted replicas can no longer reach the master.
now=$(date +%s)
if [ "$now" -lt $((expires + 2)) ]; then
	echo "rehearsal: waiting $((expires + 2 - now)) s for the certificates to expire" >&2
	sleep $((expires + 2 - now))
fi
n=2
while [ $n -le "$count" ]; do
	eval "p=\$snap_pid_$n"
	kill -TERM "$p"
	wait "$p" || true
	start_snapshotd $n
	n=$((n + 1))
done

# What the operator brings: the renewed certificates, the ssh client's
# settings for each node, and the consoles in shell variables.
sh "$top/scripts/mkcerts.sh" "$dir/renewed" valid
{
	echo "# sftp -F $dir/ssh_config cms1 (the rehearsal's nodes)"
	n=1
	while [ $n -le "$count" ]; do
		printf 'Host cms%s\n\tHostName %s\n' $n "$(addr $n)"
		n=$((n + 1))
	done
	printf 'Host *\n\tPort %s\n\tUser admin\n\tIdentityFile %s\n' "$sftp_port" \
		"$dir/operator_ed25519"
	printf '\tIdentitiesOnly yes\n\tStrictHostKeyChecking no\n'
	printf '\tUserKnownHostsFile /dev/null\n\tLogLevel error\n'
} >"$dir/ssh_config"
{
	echo "# . $dir/env.sh: the rehearsal's consoles (README.md, \"Rehearsing the renewal\")"
	n=1
	while [ $n -le "$count" ]; do
		echo "N$n=$(conf $n)"
		n=$((n + 1))
	done
	echo "SSH_CONFIG=$dir/ssh_config"
	echo "RENEWED=$dir/renewed"
	cat <<'FN'
# settled CONF: wait while a cluster command runs, then print the status.
settled() {
	while "${NODEBAK:-bin/nodebak}" -c "$1" database cluster status | grep -q '(In progress'; do
		sleep 1
	done
	"${NODEBAK:-bin/nodebak}" -c "$1" database cluster status
}
FN
} >"$dir/env.sh"

cat <<HINT

nodebak rehearsal: $count nodes in one database cluster whose certificates
have expired (the replicas no longer reach the master), as in the
reference procedure. Renewed certificates: $dir/renewed/

HINT
n=1
while [ $n -le "$count" ]; do
	role=replica
	[ $n = 1 ] && role=master
	printf '  cms%s  %-10s %-8s console: bin/nodebak -c %s\n' $n "$(addr $n)" $role "$(conf $n)"
	printf '                           sftp:    sftp -F %s cms%s\n' "$dir/ssh_config" $n
	n=$((n + 1))
done
cat <<HINT

In another terminal, from $top:
  . $dir/env.sh          # N1..N$count: each node's nodebak.conf
  bin/nodebak -c \$N2 database cluster status
then follow README.md, "Rehearsing the renewal". Logs: $dir/cms*/*.log
Stop with Ctrl-C (or kill -TERM $$): every node and its PostgreSQL server
stops, and $dir is removed.
Rehearsal ready.
HINT
wait
