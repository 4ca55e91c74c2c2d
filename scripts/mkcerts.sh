#!/bin/sh
# mkcerts.sh DIR [expired|valid|soon:SECONDS]: make a database-cluster
# CA, server and client certificates and keys in DIR with openssl, named as
# on the reference appliance: CA.cer, dbclusterserver.key/.cer,
# dbclusterclient.key/.cer (client CN "postgres"). With "expired" (the
# default) the server and client certificates' validity ended in 2021;
# with "soon:SECONDS" it ends that many seconds from now (a cluster that
# is built with them and then expires: scripts/rehearsal.sh).
set -eu
dir=$1
mode=${2:-expired}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
	-subj "/O=nodebak demo/CN=nodebak demo cluster CA" \
	-keyout "$work/CA.key" -out "$dir/CA.cer" 2>/dev/null

mkdir -p "$work/new"
: > "$work/index.txt"
echo 1000 > "$work/serial"
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = demo
[demo]
dir = $work
database = $work/index.txt
new_certs_dir = $work/new
serial = $work/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
organizationName = optional
CNF

case $mode in
expired)
	dates="-startdate 20190101000000Z -enddate 20210101000000Z" ;;
valid)
	dates="-days 825" ;;
soon:*)
	now=$(date +%s)
	start=$(date -u -d "@$((now - 60))" +%Y%m%d%H%M%SZ)
	end=$(date -u -d "@$((now + ${mode#soon:}))" +%Y%m%d%H%M%SZ)
	dates="-startdate $start -enddate $end" ;;
*)
	echo "mkcerts.sh: $mode: expected expired, valid or soon:SECONDS" >&2
	exit 2 ;;
esac

for who in server client; do
	cn="db-cluster-$who"
	[ "$who" = client ] && cn=postgres
	openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=nodebak demo/CN=$cn" \
		-keyout "$dir/dbcluster$who.key" -out "$work/$who.csr" 2>/dev/null
	# shellcheck disable=SC2086
	openssl ca -batch -notext -config "$work/ca.cnf" -cert "$dir/CA.cer" \
		-keyfile "$work/CA.key" $dates -in "$work/$who.csr" \
		-out "$dir/dbcluster$who.cer" 2>/dev/null
	chmod 600 "$dir/dbcluster$who.key"
done
