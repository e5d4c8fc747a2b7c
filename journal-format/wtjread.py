#!/usr/bin/env python3
"""A second WireTape journal reader, written from journal-format/SPEC.md alone (format 2.0,
reads 1.x), to check that the spec is exact: it prints a journal's records in the JSON-lines
form of SPEC.md section 9, as `wiretape cat --format jsonl` does, skipping damage and
reporting it on stderr as "damage FILE OFFSET [FIRST...LAST]: what" (torn tails as "torn").

    wtjread.py JOURNAL_DIR [--stop]      # --stop: exit 1 at the first damage

Standard library only; LZ4 is the system liblz4 through ctypes (LZ4_decompress_safe and
LZ4_decompress_safe_usingDict). CRC-32C is computed in Python (slow on large journals).
"""
import base64, ctypes, ctypes.util, os, re, struct, sys

_lz4 = ctypes.CDLL(ctypes.util.find_library("lz4") or "liblz4.so.1")
_lz4.LZ4_decompress_safe.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
_lz4.LZ4_decompress_safe_usingDict.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]

_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(b):  # §1
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

u16 = lambda b, o: struct.unpack_from("<H", b, o)[0]
u32 = lambda b, o: struct.unpack_from("<I", b, o)[0]
u64 = lambda b, o: struct.unpack_from("<Q", b, o)[0]
i64 = lambda b, o: struct.unpack_from("<q", b, o)[0]
M64 = (1 << 64) - 1


class Bad(Exception):
    pass


class Fatal(Exception):
    pass


def block_header(b, o, size, payload_in_file=True):  # §4.1: the header fields, or None when not valid
    if o + 80 > size or b[o:o + 4] != b"WTJB" or u32(b, o + 76) != crc32c(b[o:o + 76]):
        return None
    h = dict(codec=b[o + 4], stored=u32(b, o + 8), raw=u32(b, o + 12), count=u32(b, o + 16), crc=u32(b, o + 20),
             first=u64(b, o + 24), last=u64(b, o + 32), minw=i64(b, o + 40), maxw=i64(b, o + 48),
             mine=u64(b, o + 56), maxe=u64(b, o + 64))
    bound = h["raw"] + h["raw"] // 255 + 16
    ok = (h["codec"] in (0, 1, 2) and h["raw"] <= 134217728
          and (h["stored"] == h["raw"] if h["codec"] == 0 else h["stored"] <= bound)
          and h["count"] >= 1 and h["first"] <= h["last"] and h["last"] - h["first"] >= h["count"] - 1
          and h["minw"] <= h["maxw"] and h["mine"] <= h["maxe"] and (o + 80 + h["stored"] <= size or not payload_in_file))
    return h if ok else None


def seal_at(b, o, size):  # §6: a seal with a valid CRC naming this offset
    return o + 48 <= size and b[o:o + 4] == b"WTJS" and u32(b, o + 44) == crc32c(b[o:o + 44]) and u64(b, o + 32) == o


class Reader:  # §5.1
    def __init__(self, b, start, end):
        self.b, self.p, self.end = b, start, end

    def need(self, n):
        if n > self.end - self.p:
            raise Bad("short")

    def u8(self):
        self.need(1); v = self.b[self.p]; self.p += 1; return v

    def u16(self):
        self.need(2); v = u16(self.b, self.p); self.p += 2; return v

    def varint(self):
        v, shift = 0, 0
        while True:
            if self.p >= self.end:
                raise Bad("varint runs past the end")
            x = self.b[self.p]; self.p += 1
            if shift == 63 and x > 1:
                raise Bad("varint overflows")
            v |= (x & 0x7F) << shift
            if x & 0x80 == 0:
                return v
            shift += 7
            if shift > 63:
                raise Bad("varint too long")

    def bytes(self, n):
        self.need(n); v = self.b[self.p:self.p + n]; self.p += n; return v

    def string(self):
        n = self.varint()
        if n > self.end - self.p:
            raise Bad("string runs past the body")
        try:
            return self.bytes(n).decode("utf-8")
        except UnicodeDecodeError:
            raise Bad("string is not valid UTF-8")


def zz(u):
    return (u >> 1) ^ -(u & 1)


def body(kind, flags, r):  # §5.3: a dict of JSON fields (after type/seq/epoch/wall/mono)
    f = {}
    if kind in (1, 2):
        f["dir"] = "in" if kind == 1 else "out"
        p = r.bytes(r.end - r.p)
        if flags & 1 == 0:
            f["opcode"] = "text"
            try:
                f["data"] = p.decode("utf-8")
                return f
            except UnicodeDecodeError:
                pass
        else:
            f["opcode"] = "binary"
        f["data_b64"] = base64.b64encode(p).decode("ascii")
    elif kind == 3:
        # Body order (§5.3): state, code, reason, error, message, closed by, counters.
        v = {"state": r.string()}
        if flags & 1: v["close_code"] = r.u16()
        if flags & 2: v["close_reason"] = r.string()
        if flags & 4: v["error"] = r.string()
        if flags & 8: v["message"] = r.string()
        if flags & 16:
            c = r.u8()
            if c > 1: raise Bad("closed by")
            v["closed_by"] = "peer" if c == 0 else "local"
        if flags & 32:
            for k in ("total_lagged", "total_lagged_bytes", "reconnects", "failed_attempts"):
                v[k] = r.varint()
        # JSON order (§9): state, close_code, close_reason, closed_by, error, message, counters.
        for k in ("state", "close_code", "close_reason", "closed_by", "error", "message",
                  "total_lagged", "total_lagged_bytes", "reconnects", "failed_attempts"):
            if k in v: f[k] = v[k]
    elif kind == 4:
        o = r.u8()
        if o > 2: raise Bad("outcome")
        f["outcome"] = ["attempt", "connected", "failed"][o]
        if flags & 1: f["url"] = r.string()
        if flags & 2: f["http_status"] = r.u16()
        err = r.string() if flags & 4 else None
        msg = r.string() if flags & 8 else None
        if flags & 16:
            v = r.varint()
            if v > 0xFFFFFFFF: raise Bad("retry after")
            f["retry_after_s"] = v
        if err is not None: f["error"] = err
        if msg is not None: f["message"] = msg
    elif kind == 5:
        p = r.u8()
        if p > 1: raise Bad("phase")
        f["phase"] = ["start", "end"][p]
        if flags & 1: f["url"] = r.string()
        if flags & 2:
            n = r.varint()
            if n > (r.end - r.p) // 2: raise Bad("header count")
            f["headers"] = [[r.string(), r.string()] for _ in range(n)]
        if flags & 4: f["message"] = r.string()
    elif kind == 6:
        f["count"] = r.varint(); f["bytes"] = r.varint()
    elif kind == 7:
        f["text"] = r.string()
    return f


TYPES = {1: "frame", 2: "frame", 3: "lifecycle", 4: "connect", 5: "session", 6: "lag", 7: "annotation"}


def decode_block(raw, h):  # §5.2, §5.4: the records, or raises Bad
    if len(raw) < 32: raise Bad("column lengths")
    lens = struct.unpack_from("<8I", raw, 0)
    cols, p = [], 32
    for n in lens:
        if n > len(raw) - p: raise Bad("column length")
        cols.append(Reader(raw, p, p + n)); p += n
    kinds, flags, seqs, epochs, walls, monos, lengths, inline = cols
    payload = Reader(raw, p, len(raw))
    seq, epoch, wall, mono, out = h["first"], 0, 0, 0, []
    while kinds.p < kinds.end:
        k, fl = kinds.u8(), flags.u8()
        ds, de, dw, dm, n = seqs.varint(), zz(epochs.varint()), zz(walls.varint()), zz(monos.varint()), lengths.varint()
        if not out and ds != 0: raise Bad("first seq delta")
        if out and (ds < 1 or seq > M64 - ds): raise Bad("seq delta")
        area = payload if k in (1, 2) else inline
        if n > area.end - area.p: raise Bad("body length")
        start = area.p; area.p += n
        seq = seq + ds
        epoch = (epoch + de) & M64
        wall = ((wall + dw + (1 << 63)) & M64) - (1 << 63)
        mono = (mono + dm + dw) & M64
        out.append((k, fl, seq, epoch, wall, mono, start, start + n))
    if any(c.p != c.end for c in cols) or payload.p != payload.end: raise Bad("stray bytes")
    if len(out) != h["count"] or out[-1][2] != h["last"]: raise Bad("count or last seq")
    if min(r[4] for r in out) != h["minw"] or max(r[4] for r in out) != h["maxw"]: raise Bad("wall range")
    if min(r[3] for r in out) != h["mine"] or max(r[3] for r in out) != h["maxe"]: raise Bad("epoch range")
    records = []
    for k, fl, s, e, w, m, a, z in out:
        if k not in TYPES:
            continue  # unknown kind: skipped
        f = body(k, fl, Reader(raw, a, z))
        records.append(dict(type=TYPES[k], seq=s, epoch=e, wall_ns=w, mono_ns=m, **f))
    return records


def jstr(s):  # §9 string escaping
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"': out.append('\\"')
        elif ch == "\\": out.append("\\\\")
        elif c == 10: out.append("\\n")
        elif c == 13: out.append("\\r")
        elif c == 9: out.append("\\t")
        elif c < 0x20: out.append("\\u%04x" % c)
        else: out.append(ch)
    out.append('"')
    return "".join(out)


def jval(v):
    if isinstance(v, str): return jstr(v)
    if isinstance(v, int): return str(v)
    return "[" + ",".join(jval(x) for x in v) + "]"


def line(rec):
    return "{" + ",".join(jstr(k) + ":" + jval(v) for k, v in rec.items()) + "}"


def main():
    d = sys.argv[1]
    stop = "--stop" in sys.argv[2:]
    out = sys.stdout
    last_good = None

    def damage(name, off, what, rng=None):
        r = f" {rng[0]}...{rng[1]}" if rng else ""
        print(f"damage {name} {off}{r}: {what}", file=sys.stderr)
        if stop:
            raise Fatal()

    try:
        names = sorted(n for n in os.listdir(d) if re.fullmatch(r"seg-[0-9]{20}\.wtj", n, re.ASCII))
        for name in names:
            b = open(os.path.join(d, name), "rb").read()
            size = len(b)
            dict_bytes, off, major = None, 40, None
            if size >= 40 and b[0:8] == b"WTJSEGMT" and u32(b, 36) == crc32c(b[0:36]):
                major = u16(b, 8)
                if major not in (1, 2):
                    print(f"unsupported major version {major} in {name}", file=sys.stderr)
                    return 2
                if u32(b, 12) != 40:
                    major = None
            if major is None:
                damage(name, 0, "segment header")
            elif major == 2 and size >= 56 and b[40:44] == b"WTJD" and u32(b, 52) == crc32c(b[40:52]):  # §3.1
                n = u32(b, 44)
                if 1 <= n <= 65536 and 56 + n <= size and crc32c(b[56:56 + n]) == u32(b, 48):
                    dict_bytes, off = b[56:56 + n], 56 + n
            while off < size:
                h = block_header(b, off, size)
                if h is not None:  # §7.1
                    end = off + 80 + h["stored"]
                    rng = (h["first"], h["last"])
                    if last_good is not None and h["first"] <= last_good:
                        damage(name, off, "out of order", rng)
                    else:
                        try:
                            p = b[off + 80:end]
                            if crc32c(p) != h["crc"]: raise Bad("payload CRC")
                            if h["codec"] == 0:
                                raw = p
                            else:
                                if h["codec"] == 2 and dict_bytes is None: raise Bad("codec 2 without a dictionary")
                                dst = ctypes.create_string_buffer(max(h["raw"], 1))
                                if h["raw"] == 0 or h["stored"] == 0: raise Bad("empty")
                                if h["codec"] == 1:
                                    k = _lz4.LZ4_decompress_safe(p, dst, len(p), h["raw"])
                                else:
                                    k = _lz4.LZ4_decompress_safe_usingDict(p, dst, len(p), h["raw"], dict_bytes, len(dict_bytes))
                                if k != h["raw"]: raise Bad("LZ4")
                                raw = dst.raw[:h["raw"]]
                            recs = decode_block(raw, h)
                        except Bad as e:
                            damage(name, off, str(e), rng)
                        else:
                            for r in recs:
                                out.write(line(r) + "\n")
                            last_good = h["last"]
                    off = end
                    continue
                if seal_at(b, off, size) and off + 48 == size:
                    break
                # §7.2: invalid bytes at off
                y = off + 1
                while y + 4 <= size:
                    if (b[y:y + 4] == b"WTJB" and block_header(b, y, size) is not None) or seal_at(b, y, size):
                        break
                    y += 1
                else:
                    y = None
                if y is not None:
                    damage(name, off, "invalid bytes")
                    off = y
                    continue
                rest = b[off:]
                torn = (len(rest) < 80
                        or block_header(b, off, size, payload_in_file=False) is not None
                        or (off == 40 and major == 2 and dict_bytes is None and len(rest) >= 16 and rest[0:4] == b"WTJD"
                            and u32(rest, 12) == crc32c(rest[0:12]) and 1 <= u32(rest, 4) <= 65536 and 56 + u32(rest, 4) > size)
                        or rest.count(0) == len(rest))
                if torn and name != names[-1]:  # §7.2: an older segment cut short
                    damage(name, off, "cut short")
                elif torn:
                    print(f"torn {name} {off}", file=sys.stderr)
                else:
                    damage(name, off, "invalid bytes to the end of the file")
                break
    except Fatal:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
