"""bakutil.py: read and re-pack .bak archives the way docs/bak-format.md
describes, so tests can build altered archives."""
import gzip
import io
import tarfile


def read_members(path):
    """[(TarInfo, bytes or None)] in archive order."""
    out = []
    with tarfile.open(path, "r:gz") as tf:
        for m in tf.getmembers():
            out.append((m, tf.extractfile(m).read() if m.isfile() else None))
    return out


def pack(members, fmt=tarfile.USTAR_FORMAT):
    """gzip(tar) bytes of [(TarInfo, data)] with a zero gzip timestamp."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tf:
        for info, data in members:
            info = info if isinstance(info, tarfile.TarInfo) else info
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
