#!/usr/bin/env python3
"""tests/lit/Inputs/extract_bc.py — splits a dumped .mojave.bc section into
its bitcode records (format in passes/MojEmbedBitcode.cpp): writes
<out>.<n>.bc for each record, prints one line per record, fails on a bad
magic or a truncated record."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
out = sys.argv[2]
pos = n = 0
while pos < len(data):
    magic = data[pos:pos + 8]
    if magic != b"MOJBC\0\0\1":
        sys.exit("bad magic at %d: %r" % (pos, magic))
    (size,) = struct.unpack("<Q", data[pos + 8:pos + 16])
    body = data[pos + 16:pos + 16 + size]
    if len(body) != size or body[:4] != b"BC\xc0\xde":
        sys.exit("truncated or non-bitcode record at %d" % pos)
    open("%s.%d.bc" % (out, n), "wb").write(body)
    print("record %d: %d bytes" % (n, size))
    pos += 16 + ((size + 7) & ~7)
    n += 1
