#!/bin/sh
# verify-sealed-openssl.sh: check a sealed nodebak archive (format 2) with
# standard tools only (sh, tar, openssl, sha256sum, sed, awk, wc), with no
# decryption key: no nodebak program is used. docs/bak-format.md
# "Verifying a sealed archive with openssl alone" shows and explains it.
#
#   sh scripts/verify-sealed-openssl.sh NAME.bak PUBKEY
#
# PUBKEY: the signing node's public key: a PEM file, or what `nodebak key
# show` prints on that node. Prints "NAME.bak: OK" and exits 0, or prints
# "verify-sealed-openssl: FAILED: <why>" and exits 1. To check the
# contents too, open the payload with the stock age tool and run
# verify-openssl.sh on what comes out (the doc says how).
set -u
LC_ALL=C
export LC_ALL

fail() {
	echo "verify-sealed-openssl: FAILED: $*" >&2
	exit 1
}

[ $# -eq 2 ] || { echo "usage: verify-sealed-openssl.sh NAME.bak PUBKEY" >&2; exit 2; }
bak=$1
pub=$2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
x=$tmp/x
mkdir "$x"

# 1. A tar of exactly payload.age, ENVELOPE and ENVELOPE.sig, regular files.
tar -tf "$bak" >"$tmp/list" 2>"$tmp/err" || fail "$bak: not a tar archive: $(grep -m1 . "$tmp/err")"
printf 'payload.age\nENVELOPE\nENVELOPE.sig\n' | cmp -s - "$tmp/list" ||
	fail "$bak: the members are not payload.age, ENVELOPE, ENVELOPE.sig"
tar -tvf "$bak" | cut -c1 | grep -qv '^-$' && fail "$bak: a member is not a regular file"
tar -xf "$bak" -C "$x" --no-same-owner --no-same-permissions ||
	fail "$bak: cannot extract it"

# 2. The key and its id (the first 8 bytes of SHA-256 over the raw 32-byte
# Ed25519 key, the last 32 bytes of its DER form).
sed -n '/^-----BEGIN PUBLIC KEY-----$/,/^-----END PUBLIC KEY-----$/p' "$pub" >"$tmp/pub.pem"
openssl pkey -pubin -in "$tmp/pub.pem" -outform DER -out "$tmp/pub.der" 2>/dev/null ||
	fail "$pub: no PEM public key in it"
keyid=$(tail -c 32 "$tmp/pub.der" | sha256sum | cut -c1-16)

# 3. ENVELOPE.sig: four lines, this key's id, an Ed25519 signature over
# "nodebak-envelope-v2" NUL ENVELOPE. Nothing in the ENVELOPE is believed
# before it verifies.
sig=$x/ENVELOPE.sig
[ "$(wc -l <"$sig")" -eq 4 ] &&
	[ "$(sed -n 1p "$sig")" = "nodebak-signature 1" ] &&
	[ "$(sed -n 3p "$sig")" = "algorithm ed25519" ] ||
	fail "$bak: ENVELOPE.sig is malformed"
[ "$(sed -n 2p "$sig")" = "key-id $keyid" ] ||
	fail "$bak: signed by $(sed -n 's/^key-id //p' "$sig"), not by key $keyid"
hex=$(sed -n 's/^signature \([0-9a-f]\{128\}\)$/\1/p' "$sig")
[ -n "$hex" ] || fail "$bak: ENVELOPE.sig has no signature line"
printf "$(echo "$hex" | awk '{ h = "0123456789abcdef"
	for (i = 1; i < length($0); i += 2)
		printf "\\%03o", (index(h, substr($0, i, 1)) - 1) * 16 + index(h, substr($0, i + 1, 1)) - 1 }')" >"$tmp/sig.bin"
{ printf 'nodebak-envelope-v2\000'; cat "$x/ENVELOPE"; } >"$tmp/signed"
openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -in "$tmp/signed" \
	-sigfile "$tmp/sig.bin" >/dev/null 2>&1 ||
	fail "$bak: the ENVELOPE signature does not verify with key $keyid"
[ "$(sed -n 1p "$x/ENVELOPE")" = "nodebak-envelope 2" ] || fail "$bak: not a version 2 ENVELOPE"
grep -qx "key-id $keyid" "$x/ENVELOPE" || fail "$bak: ENVELOPE key-id is not $keyid"

# 4. The payload is the one signed: its size and SHA-256.
line=$(sed -n 's/^payload age-v1 \([0-9]*\) \([0-9a-f]\{64\}\)$/\1 \2/p' "$x/ENVELOPE")
[ -n "$line" ] || fail "$bak: the ENVELOPE has no payload line"
[ "$(wc -c <"$x/payload.age")" -eq "${line%% *}" ] ||
	fail "$bak: the payload's size is not the one signed"
[ "$(sha256sum <"$x/payload.age" | cut -c1-64)" = "${line#* }" ] ||
	fail "$bak: the payload is not the one signed (altered or re-encrypted)"
head -c 22 "$x/payload.age" | grep -q '^age-encryption.org/v1$' ||
	fail "$bak: the payload is not an age file"

# 5. NAME.json beside it: the .bak's size and SHA-256.
node=$(sed -n 's/^node-name //p' "$x/ENVELOPE")
snap=$(sed -n 's/^snapshot //p' "$x/ENVELOPE")
n=$(sed -n 's/^recipients //p' "$x/ENVELOPE")
json=${bak%.bak}.json
if [ -f "$json" ]; then
	jsize=$(sed -n 's/^  "size": \([0-9]*\),$/\1/p' "$json" | head -n1)
	jsha=$(sed -n 's/^  "sha256": "\([0-9a-f]\{64\}\)",$/\1/p' "$json" | head -n1)
	[ "$(wc -c <"$bak")" -eq "${jsize:--1}" ] || fail "$bak: its size differs from $json"
	[ "$(sha256sum <"$bak" | cut -c1-64)" = "$jsha" ] || fail "$bak: its SHA-256 differs from $json"
	echo "$bak: OK (sealed: snapshot $snap of $node, signed envelope, $n recipients, $json)"
else
	echo "$bak: OK (sealed: snapshot $snap of $node, signed envelope, $n recipients; no NAME.json beside it)"
fi
