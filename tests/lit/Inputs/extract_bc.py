#!/usr/bin/env python3
"""tests/lit/Inputs/extract_bc.py — splits a dumped .mojave.bc section into
its bitcode records (format in passes/MojEmbedBitcode.cpp, docs/mojcc.md):
writes <out>.<n>.bc (decompressed) for each record, prints one line per
record, fails on a bad magic, an unknown version, a truncated record or a
bad zstd frame.  zstd through libzstd with ctypes: the library is a mojave
dependency, a Python zstd module is not."""
import ctypes
import ctypes.util
import struct
import sys

zstd = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
zstd.ZSTD_decompress.restype = ctypes.c_size_t
zstd.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
zstd.ZSTD_isError.argtypes = [ctypes.c_size_t]


def unzstd(frame, raw):
    out = ctypes.create_string_buffer(max(raw, 1))
    n = zstd.ZSTD_decompress(out, raw, frame, len(frame))
    if zstd.ZSTD_isError(n) or n != raw:
        return None
    return out.raw[:raw]


data = open(sys.argv[1], "rb").read()
out = sys.argv[2]
pos = n = 0
while pos < len(data):
    magic = data[pos:pos + 8]
    if magic[:7] != b"MOJBC\0\0":
        sys.exit("bad magic at %d: %r" % (pos, magic))
    if magic[7] != 2:
        sys.exit("record at %d: format version %d, expected 2" % (pos, magic[7]))
    size, raw = struct.unpack("<QQ", data[pos + 8:pos + 24])
    frame = data[pos + 24:pos + 24 + size]
    body = unzstd(frame, raw) if len(frame) == size else None
    if body is None or body[:4] != b"BC\xc0\xde":
        sys.exit("truncated, corrupt or non-bitcode record at %d" % pos)
    open("%s.%d.bc" % (out, n), "wb").write(body)
    print("record %d: %d bytes, %d compressed" % (n, raw, size))
    pos += 24 + ((size + 7) & ~7)
    n += 1
