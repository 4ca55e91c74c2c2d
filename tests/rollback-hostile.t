#!/usr/bin/env python3
"""rollback-hostile.t: hostile archives built here with tarfile and gzip
(a `..` path, an absolute path, a symlink, a hard link, a device node, a
FIFO, a duplicate member, a member the MANIFEST does not list, a member
larger than the MANIFEST says, more members or bytes than the configured
limits, trailing garbage, 8 GiB of zeros in 8 MiB of gzip, bzip2/xz/no
compression, GNU and pax tar, a
second gzip member, a gzip header with a name), each signed with the node's
own key (so only the content is hostile) and also unsigned. Each is refused
by `backup verify` and by `backup rollback --yes` with a message naming the
problem, the node is unchanged (a hash of the state folder, the files root
without backups/, the database folder and nodebak.conf) and nothing appears
at the targets the archive aims at. A control archive built the same way
with nothing hostile is accepted, so the refusals are the content's."""
import bz2
import copy
import hashlib
import lzma
import os
import sys
import tarfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from bakutil import read_members  # noqa: E402
from node import Node  # noqa: E402
from nodestate import Arch, folder_hash, gz  # noqa: E402
from tap import run  # noqa: E402

ABS_TARGET = f"/tmp/nodebak-hostile-{os.getpid()}"
MAX_MEMBERS = 40


def main(t):
    n = Node("rb-hostile")
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:
        f.write(conf.replace("compression_level = 1\n", "compression_level = 1\n"
                             f"max_members = {MAX_MEMBERS}\nmax_bytes = 2M\n"))
    os.makedirs(os.path.join(n.files, "certs"))
    for name, text in [("cms.lic", "licence\n"), ("certs/server.cer", "cert\n"),
                       ("certs/server.key", "key\n")]:
        with open(os.path.join(n.files, name), "w") as f:
            f.write(text)
    n.start()
    try:
        rc, _, err = n.nb("backup", "snapshot", "good")
        t.ok(rc == 0, "snapshot good", err)
        bk = os.path.join(n.files, "backups")
        members = read_members(os.path.join(bk, "good.bak"))
        manifest = members[0][1]
        h0 = folder_hash(n)
        good_sha = hashlib.sha256(open(os.path.join(bk, "good.bak"), "rb").read()).hexdigest()

        def fresh():
            return Arch(members, manifest)

        def lic():
            return next(d for i, d in members if i.name == "files/cms.lic")

        # Each case: (name, builder returning (Arch, tar-to-file function),
        # words the message must contain when signed).
        def case_control(a):
            return a
        def case_dotdot(a):
            a.add("files/../../../../pwned", b"owned\n")
            return a
        def case_dotdot_unlisted(a):
            a.add("files/../../../../pwned", b"owned\n", listed=False)
            return a
        def case_dotdot_inside(a):
            a.add("files/certs/../../../../../pwned", b"owned\n")
            return a
        def case_absolute(a):
            a.add(ABS_TARGET, b"owned\n")
            return a
        def case_absolute_unlisted(a):
            a.add(ABS_TARGET, b"owned\n", listed=False)
            return a
        def case_symlink(a):
            a.add("files/link", type=tarfile.SYMTYPE, linkname="/tmp",
                  line=f"file {hashlib.sha256(b'').hexdigest()} 0 0644 files/link")
            return a
        def case_symlink_dir(a):
            a.add("files/link", type=tarfile.SYMTYPE, linkname="../../../..",
                  line="dir 0755 files/link")
            a.add("files/link/pwned", b"owned\n")
            return a
        def case_hardlink(a):
            a.add("files/hard", type=tarfile.LNKTYPE, linkname="files/cms.lic",
                  line=f"file {hashlib.sha256(lic()).hexdigest()} {len(lic())} 0644 files/hard")
            return a
        def case_hardlink_out(a):
            a.add("files/hard", type=tarfile.LNKTYPE, linkname="/etc/passwd",
                  line=f"file {hashlib.sha256(b'').hexdigest()} 0 0644 files/hard")
            return a
        def case_chardev(a):
            a.add("files/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3,
                  line=f"file {hashlib.sha256(b'').hexdigest()} 0 0644 files/null")
            return a
        def case_blockdev(a):
            a.add("files/disk", type=tarfile.BLKTYPE, devmajor=8, devminor=0,
                  line=f"file {hashlib.sha256(b'').hexdigest()} 0 0644 files/disk")
            return a
        def case_fifo(a):
            a.add("files/fifo", type=tarfile.FIFOTYPE,
                  line=f"file {hashlib.sha256(b'').hexdigest()} 0 0644 files/fifo")
            return a
        def case_duplicate(a):
            k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/cms.lic")
            a.entries.insert(k + 1, a.entries[k])
            return a
        def case_duplicate_first(a):
            k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/certs/server.cer")
            a.entries.insert(k + 1, a.entries[k])
            return a
        def case_duplicate_other(a):
            k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/cms.lic")
            a.entries.insert(k + 1, (a.ti("files/cms.lic", data=b"evil\n"), b"evil\n"))
            return a
        def case_unlisted(a):
            a.add("files/extra.txt", b"not in the MANIFEST\n", listed=False)
            return a
        def case_larger(a):
            big = lic() + b"and more\n"
            k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/cms.lic")
            a.entries[k] = (a.ti("files/cms.lic", data=big), big)
            return a
        def case_larger_listed(a):
            big = lic() + b"and more\n"
            k = next(k for k, (i, _) in enumerate(a.entries) if i.name == "files/cms.lic")
            a.entries[k] = (a.ti("files/cms.lic", data=big), big)
            a.lines["files/cms.lic"] = (f"file {hashlib.sha256(big).hexdigest()} "
                                        f"{len(lic())} 0644 files/cms.lic")
            return a
        def case_many_members(a):
            for k in range(MAX_MEMBERS):
                a.add(f"files/z{k:03d}", type=tarfile.DIRTYPE, mode=0o755)
            return a
        def case_many_bytes(a):
            a.add("files/zbig", os.urandom(2 * 1024 * 1024 + 1))
            return a
        def case_missing(a):
            a.entries = [e for e in a.entries if e[0].name != "files/cms.lic"]
            return a
        def case_gnu(a):
            a.fmt = tarfile.GNU_FORMAT
            return a
        def case_pax(a):
            # The writer's headers, with a pax header of its form before a
            # member, holding a record it never writes.
            info, data = a.entries[0]
            info = copy.copy(info)	# not the shared TarInfo of `members`
            info.pax_headers = {"comment": "pax extended header"}
            a.entries[0] = (info, data)
            return a

        # Names the writer never produces (docs/bak-format.md: the files
        # root without backups/, dot-files and other .bak archives): restored,
        # they would overwrite or delete the node's archives.
        def case_backups_file(a):
            a.add("files/backups", b"replaces the backups folder\n")
            return a
        def case_backups_member(a):
            a.add("files/backups", type=tarfile.DIRTYPE, mode=0o755)
            a.add("files/backups/good.bak", b"overwrites an archive\n")
            return a
        def case_dotfile(a):
            a.add("files/.nodebak-tmp-x.bak", b"hidden\n")
            return a
        def case_bak_member(a):
            a.add("files/certs/old.bak", b"an archive inside the archive\n")
            return a

        def zero_bomb(tar):
            """The tar, then 8 GiB of zeros in 8 MiB of gzip (blocks after a
            full flush repeat), then a final block; the trailer is never
            reached by a reader that counts as it goes."""
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            head = c.compress(tar) + c.flush(zlib.Z_FULL_FLUSH)
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            zeros = c.compress(bytes(16 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
            end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
            return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + head + zeros * 512 +
                    end + bytes(8))

        gzipped = lambda tar: gz(tar)  # noqa: E731
        cases = [
            # name, builder, compression, words of the signed refusal
            ("dotdot", case_dotdot, gzipped, "not an acceptable member path"),
            ("dotdot-unlisted", case_dotdot_unlisted, gzipped, "not in the MANIFEST"),
            ("dotdot-inside", case_dotdot_inside, gzipped, "not an acceptable member path"),
            ("absolute", case_absolute, gzipped, "not an acceptable member path"),
            ("absolute-unlisted", case_absolute_unlisted, gzipped, "not in the MANIFEST"),
            ("symlink", case_symlink, gzipped, "is a symbolic link"),
            ("symlink-dir", case_symlink_dir, gzipped, "is a symbolic link"),
            ("hardlink", case_hardlink, gzipped, "is a hard link"),
            ("hardlink-outside", case_hardlink_out, gzipped, "is a hard link"),
            ("chardev", case_chardev, gzipped, "is a character device"),
            ("blockdev", case_blockdev, gzipped, "is a block device"),
            ("fifo", case_fifo, gzipped, "is a FIFO"),
            ("duplicate", case_duplicate, gzipped, "repeated"),
            ("duplicate-other", case_duplicate_other, gzipped, "repeated"),
            ("duplicate-inner", case_duplicate_first, gzipped, "repeated"),
            ("unlisted", case_unlisted, gzipped, "not in the MANIFEST"),
            ("larger", case_larger, gzipped, "size differs from the MANIFEST"),
            ("larger-listed", case_larger_listed, gzipped, "size differs from the MANIFEST"),
            ("missing", case_missing, gzipped, "is missing"),
            ("backups-file", case_backups_file, gzipped, "never writes"),
            ("backups-member", case_backups_member, gzipped, "never writes"),
            ("dot-file", case_dotfile, gzipped, "never writes"),
            ("bak-member", case_bak_member, gzipped, "never writes"),
            ("many-members", case_many_members, gzipped, f"more than the limit of {MAX_MEMBERS}"),
            ("many-bytes", case_many_bytes, gzipped, "more than the limit"),
            ("trailing-garbage", case_control, lambda tar: gz(tar) + b"garbage", "trailing data"),
            ("trailing-zeros", case_control, lambda tar: gz(tar) + b"\0" * 64, "trailing data"),
            ("tar-trailing-garbage", case_control, lambda tar: gz(tar + b"x" * 512),
             "bytes after the end-of-archive marker"),
            ("zero-bomb", case_control, zero_bomb, "bytes after the end-of-archive marker"),
            ("bzip2", case_control, lambda tar: bz2.compress(tar), "not a gzip-compressed"),
            ("xz", case_control, lambda tar: lzma.compress(tar), "not a gzip-compressed"),
            ("uncompressed", case_control, lambda tar: tar, "not a gzip-compressed"),
            ("gzip-name", case_control, lambda tar: gz(tar, filename="x.tar"), "gzip header"),
            ("second-gzip-member", case_control,
             lambda tar: gz(tar[:len(tar) // 2]) + gz(tar[len(tar) // 2:]), "trailing data"),
            ("empty-second-gzip-member", case_control, lambda tar: gz(tar) + gz(b""), "trailing data"),
            ("gnu-tar", case_gnu, gzipped, "tar header field mode is not as nodebak writes it"),
            ("pax-tar", case_pax, gzipped, "pax records are not as nodebak writes them"),
        ]

        # The control: the builder's own output with nothing hostile.
        with open(os.path.join(bk, "control.bak"), "wb") as f:
            f.write(gz(fresh().tar(n)))
        rc, out, err = n.nb("backup", "verify", "control.bak")
        t.ok(rc == 0 and ": OK" in out, "control archive built by the test verifies", out + err)
        os.unlink(os.path.join(bk, "control.bak"))

        def targets_absent(label):
            bad = [p for p in (os.path.join(n.root, "pwned"), os.path.join(n.state, "pwned"),
                               os.path.join(os.path.dirname(n.root), "pwned"), ABS_TARGET,
                               os.path.join(n.files, "link"), os.path.join(n.files, "hard"),
                               os.path.join(n.files, "null"), os.path.join(n.files, "fifo"))
                   if os.path.lexists(p)]
            t.ok(not bad, f"{label}: nothing created at the archive's targets", bad)

        for name, build, compress, words in cases:
            for signed in (True, False):
                label = f"{name} ({'signed' if signed else 'unsigned'})"
                file = f"{name}{'' if signed else '-unsigned'}.bak"
                path = os.path.join(bk, file)
                with open(path, "wb") as f:
                    f.write(compress(build(fresh()).tar(n, signed)))
                t0 = time.time()
                rc, out, err = n.nb("backup", "verify", file)
                took = time.time() - t0
                ok = rc == 1 and err.startswith("backup verify: FAILED: ") and err.count("\n") == 1
                if signed:
                    ok = ok and words in err
                t.ok(ok, f"{label}: backup verify refuses" + (f" ({words})" if signed else ""), err)
                if name == "zero-bomb":
                    t.ok(took < 5, f"{label}: refused without inflating the 8 GiB ({took:.1f} s)")
                rc, out, err = n.nb("backup", "rollback", file, "--yes")
                ok = rc != 0 and "The node was not changed." in err and "Restored" not in out
                if signed:
                    ok = ok and words in err
                t.ok(ok, f"{label}: backup rollback refuses, node not changed", out + err)
                t.eq(folder_hash(n), h0, f"{label}: state, files, database, config hash unchanged")
                targets_absent(label)
                t.ok(os.path.isdir(bk) and hashlib.sha256(open(os.path.join(bk, "good.bak"), "rb")
                                                          .read()).hexdigest() == good_sha,
                     f"{label}: the node's archives are untouched")
                os.unlink(path)
        t.ok(not [f for f in os.listdir(bk) if f.startswith("pre-rollback-")],
             "no safety snapshot was taken for a refused archive")

        # Well-formed and signed, but what it would restore cannot run the
        # node: refused by the rollback before anything is touched.
        bad_conf = open(n.conf, "rb").read() + b"[snapshotd]\nno such key = 1\n"
        for name, member, data, words in [
                ("bad-config", "config/nodebak.conf", bad_conf, "configuration"),
                ("bad-database", "db/node.db", os.urandom(8192), "db/node.db")]:
            with open(os.path.join(bk, f"{name}.bak"), "wb") as f:
                f.write(gz(fresh().replace(member, data).tar(n)))
            rc, out, err = n.nb("backup", "rollback", f"{name}.bak", "--yes")
            t.ok(rc != 0 and words in err and "The node was not changed." in err,
                 f"{name}: rollback refuses ({words})", out + err)
            t.eq(folder_hash(n), h0, f"{name}: node unchanged")
            n.stop()
            try:
                n.start()
                started = True
            except RuntimeError as e:
                started = str(e)
            t.ok(started is True, f"{name}: the daemon starts again", started)
            os.unlink(os.path.join(bk, f"{name}.bak"))
        rc, out, err = n.nb("backup", "rollback", "good.bak", "--yes", "--no-safety-snapshot")
        t.ok(rc == 0, "the genuine archive still rolls back", out + err)
    finally:
        n.cleanup()
        if os.path.lexists(ABS_TARGET):
            os.unlink(ABS_TARGET)


run(main)
