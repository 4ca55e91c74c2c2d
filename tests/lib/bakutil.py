"""bakutil.py: read and re-pack .bak archives the way docs/bak-format.md
describes, so tests can build altered archives: tar headers and gzip
header byte for byte as nodebak's writer makes them (ustar_header, tar,
gz), and helpers to alter one field of one header afterwards."""
import gzip
import io
import tarfile

# The ustar header fields: name, offset, length (docs/bak-format.md).
FIELDS = [("name", 0, 100), ("mode", 100, 8), ("uid", 108, 8), ("gid", 116, 8),
          ("size", 124, 12), ("mtime", 136, 12), ("chksum", 148, 8),
          ("typeflag", 156, 1), ("linkname", 157, 100), ("magic", 257, 6),
          ("version", 263, 2), ("uname", 265, 32), ("gname", 297, 32),
          ("devmajor", 329, 8), ("devminor", 337, 8), ("prefix", 345, 155),
          ("pad", 500, 12)]
FIELD = {name: (off, n) for name, off, n in FIELDS}


def read_members(path):
    """[(TarInfo, bytes or None)] in archive order."""
    out = []
    with tarfile.open(path, "r:gz") as tf:
        for m in tf.getmembers():
            out.append((m, tf.extractfile(m).read() if m.isfile() else None))
    return out


def _small(v):
    """An 8-byte numeric field as the writer formats it: 6 octal digits,
    space, NUL."""
    return b"%06o \0" % v


def _split(path):
    """(prefix, name) as the writer fills them: the whole path in name when
    it fits in 100 bytes, else split at its first '/'."""
    b = path.encode()
    if len(b) <= 100:
        return b"", b
    cut = b.index(b"/", 1)
    return b[:cut], b[cut + 1:]


def set_checksum(h):
    """h (bytearray, 512) with its checksum as the writer writes it: the
    byte sum with the field taken as 8 spaces, in 6 octal digits, NUL,
    space."""
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return h


def ustar_header(info):
    """The 512-byte header the writer makes for TarInfo info, with whatever
    type, link name, owner and device numbers info holds (tests give it
    hostile ones)."""
    name = info.name + ("/" if info.type == tarfile.DIRTYPE and not info.name.endswith("/")
                        else "")
    prefix, short = _split(name)
    h = bytearray(512)
    h[0:len(short)] = short
    h[100:108] = _small(info.mode & 0o7777)
    h[108:116] = _small(info.uid)
    h[116:124] = _small(info.gid)
    h[124:136] = b"%011o " % info.size
    h[136:148] = b"%011o " % info.mtime
    h[156:157] = info.type
    h[157:157 + len(info.linkname.encode())] = info.linkname.encode()
    h[257:265] = b"ustar\x0000"
    h[265:265 + len(info.uname.encode())] = info.uname.encode()
    h[297:297 + len(info.gname.encode())] = info.gname.encode()
    h[329:337] = _small(info.devmajor)
    h[337:345] = _small(info.devminor)
    h[345:345 + len(prefix)] = prefix
    return bytes(set_checksum(h))


def pax_record(key, value):
    """One pax extended header record: "LEN key=value\n", LEN counting
    itself."""
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def tar(members):
    """The writer's tar stream of [(TarInfo, data or None)]: each header,
    its data padded with NULs to 512, then two zero blocks, nothing more.
    A TarInfo with pax_headers (hostile) gets a pax 'x' record before it,
    formatted the same way."""
    out = bytearray()
    for info, data in members:
        if info.pax_headers:
            rec = b"".join(pax_record(k, v) for k, v in info.pax_headers.items())
            x = tarfile.TarInfo("././@PaxHeader")
            x.type, x.size, x.mode, x.mtime = tarfile.XHDTYPE, len(rec), 0o644, info.mtime
            out += ustar_header(x) + rec + bytes(-len(rec) % 512)
        out += ustar_header(info)
        if data is not None:
            out += data + bytes(-len(data) % 512)
    return bytes(out + bytes(1024))


def headers(raw):
    """{member name: offset of its header} of a tar stream written by tar()."""
    out, off = {}, 0
    while raw[off:off + 512] != bytes(512):
        h = raw[off:off + 512]
        name = h[0:100].split(b"\0")[0]
        prefix = h[345:500].split(b"\0")[0]
        full = (prefix + b"/" + name if prefix else name).decode().rstrip("/")
        out[full] = off
        off += 512 + (int(h[124:135], 8) + 511) // 512 * 512
    return out


def set_field(raw, off, field, value, checksum=True):
    """raw (bytes) with header field `field` of the header at off set to
    value (padded with NULs to the field's length) and, unless told not
    to, the header's checksum made right again."""
    o, n = FIELD[field]
    assert len(value) <= n, field
    b = bytearray(raw)
    b[off + o:off + o + n] = value + bytes(n - len(value))
    if checksum:
        b[off:off + 512] = set_checksum(bytearray(b[off:off + 512]))
    return bytes(b)


def gz(data, **kw):
    """gzip bytes of data with the header the writer makes at level 9 (zero
    timestamp, XFL 2, OS 3); kw go to GzipFile (a file name, say)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, **kw) as g:
        g.write(data)
    b = bytearray(out.getvalue())
    b[9] = 3	# Python writes 255 (unknown); nodebak writes Unix, as zlib does
    return bytes(b)


def pack(members, fmt=tarfile.USTAR_FORMAT):
    """gzip(tar) bytes of [(TarInfo, data)] as the writer makes them, or in
    Python's GNU or pax tar when fmt says so."""
    if fmt == tarfile.USTAR_FORMAT:
        return gz(tar(members))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return gz(raw.getvalue())


def sealed_parts(raw):
    """A sealed (format 2) archive's outer members: ([(name, data)], mtime)."""
    tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    members = tf.getmembers()
    return [(m.name, tf.extractfile(m).read()) for m in members], members[0].mtime


def sealed_repack(parts, mtime):
    """A sealed archive's outer tar again, byte for byte as the writer lays
    it out: payload.age (0600), ENVELOPE and ENVELOPE.sig (0644)."""
    members = []
    for name, data in parts:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o600 if name == "payload.age" else 0o644
        ti.mtime = mtime
        members.append((ti, data))
    return tar(members)
