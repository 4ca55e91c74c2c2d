#!/bin/sh
# verify-openssl.sh: check a nodebak archive with standard tools only (sh,
# gzip, tar, openssl, sha256sum, sed, awk): no nodebak program is used.
# docs/bak-format.md "Verifying with openssl alone" shows and explains it.
#
#   sh scripts/verify-openssl.sh NAME.bak PUBKEY
#
# PUBKEY: the signing node's public key: a PEM file, or what `nodebak key
# show` prints on that node. Prints "NAME.bak: OK" and exits 0, or prints
# "verify-openssl: FAILED: <why>" and exits 1.
set -u
LC_ALL=C
export LC_ALL

fail() {
	echo "verify-openssl: FAILED: $*" >&2
	exit 1
}

[ $# -eq 2 ] || { echo "usage: verify-openssl.sh NAME.bak PUBKEY" >&2; exit 2; }
bak=$1
pub=$2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
x=$tmp/x
mkdir "$x"

# 1. One whole gzip member (CRC and length checked), then the tar stream
# (names listed as they are: pax path records, non-ASCII bytes).
gzip -t <"$bak" 2>"$tmp/err" || fail "$bak: not a whole gzip file: $(grep -m1 . "$tmp/err")"
gzip -dc <"$bak" >"$tmp/tar" || fail "$bak: gzip -d failed"
tar --quoting-style=literal -tf "$tmp/tar" >"$tmp/list" 2>"$tmp/err" || fail "$bak: not a tar archive: $(grep -m1 . "$tmp/err")"
# Regular files and folders only: no link, device or FIFO is extracted.
tar -tvf "$tmp/tar" | cut -c1 | grep -qv '^[-d]$' &&
	fail "$bak: an entry is neither a regular file nor a folder"
[ "$(sed -n 1p "$tmp/list")" = MANIFEST ] && [ "$(sed -n 2p "$tmp/list")" = MANIFEST.sig ] ||
	fail "$bak: the first two entries are not MANIFEST and MANIFEST.sig"
tar -xf "$tmp/tar" -C "$x" --no-same-owner --no-same-permissions MANIFEST MANIFEST.sig ||
	fail "$bak: cannot extract MANIFEST"

# 2. The key: the PEM block of PUBKEY, and its id (the first 8 bytes of
# SHA-256 over the 32-byte raw Ed25519 key, the last 32 bytes of its DER).
sed -n '/^-----BEGIN PUBLIC KEY-----$/,/^-----END PUBLIC KEY-----$/p' "$pub" >"$tmp/pub.pem"
openssl pkey -pubin -in "$tmp/pub.pem" -outform DER -out "$tmp/pub.der" 2>/dev/null ||
	fail "$pub: no PEM public key in it"
keyid=$(tail -c 32 "$tmp/pub.der" | sha256sum | cut -c1-16)

# 3. MANIFEST.sig: exactly four lines, the key's id, an Ed25519 signature.
sig=$x/MANIFEST.sig
[ "$(wc -l <"$sig")" -eq 4 ] &&
	[ "$(sed -n 1p "$sig")" = "nodebak-signature 1" ] &&
	[ "$(sed -n 3p "$sig")" = "algorithm ed25519" ] ||
	fail "$bak: MANIFEST.sig is malformed"
[ "$(sed -n 2p "$sig")" = "key-id $keyid" ] ||
	fail "$bak: signed by $(sed -n 's/^key-id //p' "$sig"), not by key $keyid"
hex=$(sed -n 's/^signature \([0-9a-f]\{128\}\)$/\1/p' "$sig")
[ -n "$hex" ] || fail "$bak: MANIFEST.sig has no signature line"
printf "$(echo "$hex" | awk '{ h = "0123456789abcdef"
	for (i = 1; i < length($0); i += 2)
		printf "\\%03o", (index(h, substr($0, i, 1)) - 1) * 16 + index(h, substr($0, i + 1, 1)) - 1 }')" >"$tmp/sig.bin"

# 4. Ed25519 over "nodebak-manifest-v1" NUL MANIFEST. Nothing in the
# MANIFEST is believed before this succeeds.
{ printf 'nodebak-manifest-v1\000'; cat "$x/MANIFEST"; } >"$tmp/signed"
openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -in "$tmp/signed" \
	-sigfile "$tmp/sig.bin" >/dev/null 2>&1 ||
	fail "$bak: the MANIFEST signature does not verify with key $keyid"
grep -qx "key-id $keyid" "$x/MANIFEST" || fail "$bak: MANIFEST key-id is not $keyid"

# 5. The entries after the two are exactly the MANIFEST's members, in its
# order; each file has its size and SHA-256.
sed -n 's/^file [0-9a-f]\{64\} [0-9]* [0-7]\{4\} //p; s/^dir [0-7]\{4\} \(.*\)$/\1\//p' \
	"$x/MANIFEST" >"$tmp/want"
sed -n '3,$p' "$tmp/list" | cmp -s - "$tmp/want" ||
	fail "$bak: the entries are not the MANIFEST's members"
n=$(sed -n 's/^members //p' "$x/MANIFEST")
[ "$(wc -l <"$tmp/want")" -eq "${n:-0}" ] || fail "$bak: MANIFEST lists $n members but has $(wc -l <"$tmp/want")"
tar -xf "$tmp/tar" -C "$x" --no-same-owner --no-same-permissions ||
	fail "$bak: cannot extract the members"
grep '^file ' "$x/MANIFEST" | while IFS= read -r line; do
	rest=${line#file }
	sha=${rest%% *}; rest=${rest#* }
	size=${rest%% *}; rest=${rest#* }
	path=${rest#* }
	[ -f "$x/$path" ] || fail "$bak: member $path is missing"
	[ "$(wc -c <"$x/$path")" -eq "$size" ] || fail "$bak: member $path: size differs from the MANIFEST"
	[ "$(sha256sum <"$x/$path" | cut -c1-64)" = "$sha" ] ||
		fail "$bak: member $path: SHA-256 differs from the MANIFEST"
done || exit 1

# 6. NAME.json beside the archive: the .bak's size and SHA-256 (the
# first "size" and "sha256" keys in the file).
json=${bak%.bak}.json
if [ -f "$json" ]; then
	jsize=$(sed -n 's/^  "size": \([0-9]*\),$/\1/p' "$json" | head -n1)
	jsha=$(sed -n 's/^  "sha256": "\([0-9a-f]\{64\}\)",$/\1/p' "$json" | head -n1)
	[ "$(wc -c <"$bak")" -eq "${jsize:--1}" ] || fail "$bak: its size differs from $json"
	[ "$(sha256sum <"$bak" | cut -c1-64)" = "$jsha" ] || fail "$bak: its SHA-256 differs from $json"
	echo "$bak: OK (signature, $n members, $json)"
else
	echo "$bak: OK (signature, $n members; no NAME.json beside it)"
fi
