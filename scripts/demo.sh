#!/bin/sh
# demo.sh: a demo node on loopback, in ./demo: a small sample database,
# sample cluster certificates (the server and client ones expired, as in
# the reference procedure), the daemon in the foreground. Run by `make run`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
demo=$top/demo
conf=$demo/nodebak.conf

if [ ! -f "$conf" ]; then
	mkdir -p "$demo/files" "$demo/db" "$demo/state"
	chmod 700 "$demo/state"
	cat > "$conf" <<CONF
# nodebak demo node (see docs/man/nodebak.conf.5)
[node]
name = cms2
state_dir = state
files_dir = files

[database]
engine = sqlite
path = db/node.db

[snapshotd]
socket = snapshotd.sock

[schedule]
# A snapshot every 15 minutes, so that backup schedule status shows runs.
schedule = every 15m
jitter = 1m

[retention]
# Prune after each scheduled run: the 8 newest scheduled snapshots stay
# (manual ones and pins are never pruned by this).
keep_last = 8

[metrics]
textfile = metrics.prom

[cluster]
interface_a = 127.0.0.1

[ftpd]
ftp_listen = 127.0.0.1:2121
sftp_listen = 127.0.0.1:2222
tls_cert = state/ftpd.crt
tls_key = state/ftpd.key
host_key = state/ssh_host_ed25519_key
users = state/users
CONF
	cat > "$demo/state/cluster.conf" <<CL
interface = a
server_key = dbclusterserver.key
server_cert = dbclusterserver.cer
client_key = dbclusterclient.key
client_cert = dbclusterclient.cer
ca_cert = CA.cer
status = Disabled
CL
	"$top/bin/nodebak-snapshotd" -c "$conf" --init
	sqlite3 "$demo/db/node.db" <<SQL
INSERT INTO spaces(name, uri, passcode) VALUES
  ('All hands', 'allhands', '1234'), ('Support', 'support', NULL),
  ('Engineering', 'eng', '9876');
INSERT INTO users(jid, name) VALUES
  ('alice@example.com', 'Alice'), ('bob@example.com', 'Bob');
INSERT INTO node_meta(key, value) VALUES ('deployment', 'demo');
SQL
	sh "$top/scripts/mkcerts.sh" "$demo/files" expired
	printf 'nodebak demo licence\nfeatures: callbridge webadmin\n' > "$demo/files/cms.lic"
	printf 'demo-admin-pass\n' | "$top/bin/nodebak" -c "$conf" user add admin admin \
		--password-stdin >/dev/null
	# An archive host on the same machine: nodebak-pull logs in as the
	# archiver role (backups/ only, no console) with its own key.
	mkdir -p "$demo/archive-host"
	chmod 700 "$demo/archive-host"
	ssh-keygen -q -t ed25519 -N '' -C archiver@demo -f "$demo/archive-host/id_ed25519"
	openssl rand -base64 32 | "$top/bin/nodebak" -c "$conf" user add archiver \
		archiver --password-stdin >/dev/null
	"$top/bin/nodebak" -c "$conf" user key add archiver \
		"$demo/archive-host/id_ed25519.pub" >/dev/null
	# The node's signing public key (what `nodebak key show` prints, as PEM).
	cp "$demo/state/signing.pub" "$demo/archive-host/cms2.pub"
	cat > "$demo/archive-host/pull.conf" <<PULL
# The demo archive host (docs/pull.md, pull.conf(5)). No host_key: run
# nodebak-pull trust cms2 once, compare the fingerprint, answer Y.
[pull]
archive_dir = archive
metrics_textfile = pull.prom

[retention]
keep_last = 4

[node cms2]
address = 127.0.0.1
port = 2222
user = archiver
identity = id_ed25519
signing_key = cms2.pub
PULL
fi

cat <<HINT

nodebak demo node "cms2" in $demo
In another terminal, try the reference procedure's first steps:

  export NODEBAK_CONF=$conf
  bin/nodebak database cluster status        # certificates show (expired)
  bin/nodebak pki inspect dbclusterclient.cer
  bin/nodebak backup snapshot jaihanuman
  bin/nodebak backup list
  bin/nodebak backup verify jaihanuman.bak
  bin/nodebak backup rollback jaihanuman.bak
  bin/nodebak                                # interactive console

Files root (what FTP/SFTP serve): $demo/files; backups in $demo/files/backups
Pull a backup off the box (user admin, password demo-admin-pass):
  sftp -P 2222 -o StrictHostKeyChecking=no admin@127.0.0.1
  curl --ssl-reqd -k -u admin:demo-admin-pass ftp://127.0.0.1:2121/backups/
  ssh -p 2222 -o StrictHostKeyChecking=no admin@127.0.0.1   # the console over SSH
Keep verified copies on an archive host (here, the same machine):
  bin/nodebak-pull -c demo/archive-host/pull.conf trust cms2   # answer Y
  bin/nodebak-pull -c demo/archive-host/pull.conf sync
  bin/nodebak-pull -c demo/archive-host/pull.conf status
Stop the node with Ctrl-C.

HINT
# The file server in the background, the snapshot daemon in the foreground;
# Ctrl-C stops both.
"$top/bin/nodebak-ftpd" -f -c "$conf" 2>>"$demo/ftpd.log" &
ftpd=$!
trap 'kill $ftpd 2>/dev/null; wait $ftpd 2>/dev/null' EXIT INT TERM
"$top/bin/nodebak-snapshotd" -f -c "$conf"
