"""Reading `.keras` zip archives without trusting them.

Every member's declared size and compression ratio are checked against limits before a byte
is decompressed; members whose stored bytes overlap (the trick of "overlapping" zip bombs) or
repeat a name are refused; a member is then streamed with a byte budget, so a header that
lies about the size is caught after at most `declared + 1` bytes, never after gigabytes. The
CRC-32 of each member is checked as its last byte is read (zipfile does that on a full read).
"""
import io
import os
import struct
import zipfile

MAX_RATIO = 200               # deflate reaches ~1000x on constant data; real files far less
RATIO_FLOOR = 1 << 20         # members under 1 MiB are never "bombs"
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 1 << 40     # all members, declared, uncompressed
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CHUNK = 1 << 20


class ZipRefused(ValueError):
    """The archive is malformed or hostile; the message names the file and the member."""


def open_checked(source, display):
    """A zipfile.ZipFile over `source` (a path, bytes or a binary file object) whose members
    all passed `check_members`."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        zf = zipfile.ZipFile(source, "r")     # opens (and later closes) a path itself
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError) as e:
        raise ZipRefused(f"{display} is not a valid .keras file: the zip archive is "
                         f"corrupted or truncated ({e}).") from None
    try:
        check_members(zf, zf.fp, display)
    except BaseException:
        zf.close()
        raise
    return zf


def _size_of(fileobj):
    pos = fileobj.tell()
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(pos)
    return size


def check_members(zf, fileobj, display):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ZipRefused(f"Refusing to load {display}: it has {len(infos)} members (at most "
                         f"{MAX_MEMBERS} expected in a .keras file).")
    names, total, spans = set(), 0, []
    archive_size = _size_of(fileobj)
    for info in infos:
        where = f"member '{info.filename}' of {display}"
        if info.filename in names:
            raise ZipRefused(f"Refusing to load {display}: member '{info.filename}' appears "
                             "twice (which copy a reader uses is ambiguous).")
        names.add(info.filename)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ZipRefused(f"{where} uses zip compression method {info.compress_type}; "
                             ".keras files use stored or deflated members only.")
        if info.flag_bits & 0x1:
            raise ZipRefused(f"{where} is encrypted; .keras files are never encrypted.")
        declared, stored = info.file_size, info.compress_size
        if declared < 0 or stored < 0 or stored > archive_size:
            raise ZipRefused(f"{where} declares {stored} stored bytes, more than the "
                             f"archive's {archive_size}: the file is corrupted.")
        if info.compress_type == zipfile.ZIP_STORED and declared != stored:
            raise ZipRefused(f"{where} is stored uncompressed but declares {declared} bytes "
                             f"for {stored} stored bytes: the file is corrupted.")
        if declared > RATIO_FLOOR and declared > MAX_RATIO * max(stored, 1):
            raise ZipRefused(f"Refusing to load {display}: member '{info.filename}' declares "
                             f"{declared} bytes from {stored} compressed bytes (a ratio over "
                             f"{MAX_RATIO}: a decompression bomb).")
        total += declared
        if total > MAX_TOTAL_BYTES:
            raise ZipRefused(f"Refusing to load {display}: its members declare more than "
                             f"{MAX_TOTAL_BYTES} bytes in all.")
        spans.append((_data_start(fileobj, info, display), stored, info.filename))
    spans.sort()
    for (a_start, a_len, a_name), (b_start, _, b_name) in zip(spans, spans[1:]):
        if a_start + a_len > b_start:
            raise ZipRefused(f"Refusing to load {display}: members '{a_name}' and '{b_name}' "
                             "overlap in the archive (an overlapping-member zip bomb, or a "
                             "corrupted file).")


def _data_start(fileobj, info, display):
    """Offset of the member's compressed bytes (after its local header)."""
    fileobj.seek(info.header_offset)
    raw = fileobj.read(_LOCAL_HEADER.size)
    if len(raw) != _LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
        raise ZipRefused(f"{display} is corrupted: member '{info.filename}' has no valid local "
                         "header.")
    fields = _LOCAL_HEADER.unpack(raw)
    name_len, extra_len = fields[-2], fields[-1]
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def read_member(zf, name, display, limit):
    """The bytes of member `name`, streamed with a budget of min(declared size, `limit`);
    raises ZipRefused (naming the file and member) when it is missing, too large, longer than
    declared, or fails its CRC-32."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ZipRefused(f"{display} is not a valid .keras file: it has no '{name}' (members: "
                         f"{zf.namelist()[:20]}).") from None
    if info.file_size > limit:
        raise ZipRefused(f"{display}: '{name}' declares {info.file_size} bytes, over the "
                         f"{limit}-byte limit for that member.")
    budget = info.file_size
    out = bytearray()
    try:
        with zf.open(info) as f:
            while True:
                chunk = f.read(min(_CHUNK, budget + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
                if len(out) > budget:
                    raise ZipRefused(f"Refusing to load {display}: '{name}' decompresses to "
                                     f"more than the {budget} bytes it declares.")
    except ZipRefused:
        raise
    except Exception as e:    # bad CRC, zlib errors, truncated data
        raise ZipRefused(f"{display} is corrupted: cannot read '{name}' "
                         f"({type(e).__name__}: {e}).") from None
    if len(out) != budget:
        raise ZipRefused(f"{display} is corrupted: '{name}' holds {len(out)} bytes, its header "
                         f"says {budget}.")
    return bytes(out)
