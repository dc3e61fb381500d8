#!/usr/bin/env python3
"""tests/lit/Inputs/check_bc_section.py — checks an ELF file's .mojave.bc
section the way a process would see it: present, with contents in the file,
not allocatable (no SHF_ALLOC) and outside every PT_LOAD segment, so nothing
maps it at run time; and its records are format version 2 with a zstd frame
(docs/mojcc.md).  Reads the ELF headers itself so the check does not depend
on readelf's layout.  Prints one summary line; exits non-zero on a failure.
Usage: check_bc_section.py ELF"""
import struct
import sys

SHF_ALLOC = 0x2
PT_LOAD = 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

path = sys.argv[1]
f = open(path, "rb").read()
if f[:4] != b"\x7fELF" or f[4] != 2 or f[5] != 1:
    sys.exit("%s: not a 64-bit little-endian ELF file" % path)
(phoff, shoff) = struct.unpack_from("<QQ", f, 0x20)
(phentsize, phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHHHH", f, 0x36)


def section(i):
    # name, type, flags, addr, offset, size
    return struct.unpack_from("<IIQQQQ", f, shoff + i * shentsize)


stroff = section(shstrndx)[4]
bc = None
for i in range(shnum):
    s = section(i)
    name = f[stroff + s[0]:f.index(b"\0", stroff + s[0])]
    if name == b".mojave.bc":
        bc = s
if bc is None:
    sys.exit("%s: no .mojave.bc section" % path)
_, typ, flags, addr, off, size = bc
if typ != 1 or size == 0:  # SHT_PROGBITS with contents
    sys.exit("%s: .mojave.bc is not PROGBITS with contents (type %d, size %d)" % (path, typ, size))
if flags & SHF_ALLOC or addr:
    sys.exit("%s: .mojave.bc is allocatable (flags %#x, address %#x)" % (path, flags, addr))
for i in range(phnum):
    p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", f, phoff + i * phentsize)
    if p_type == PT_LOAD and off < p_offset + p_filesz and p_offset < off + size:
        sys.exit("%s: .mojave.bc [%#x, %#x) is inside PT_LOAD [%#x, %#x)"
                 % (path, off, off + size, p_offset, p_offset + p_filesz))
data = f[off:off + size]
pos = n = raw_total = 0
while pos < len(data):
    if data[pos:pos + 8] != b"MOJBC\0\0\2":
        sys.exit("%s: record at %d is not format version 2: %r" % (path, pos, data[pos:pos + 8]))
    zsize, raw = struct.unpack_from("<QQ", data, pos + 8)
    if data[pos + 24:pos + 28] != ZSTD_MAGIC or pos + 24 + zsize > len(data):
        sys.exit("%s: record at %d is not a complete zstd frame" % (path, pos))
    raw_total += raw
    pos += 24 + ((zsize + 7) & ~7)
    n += 1
print("not loaded, %d zstd records, %d bytes for %d of bitcode" % (n, size, raw_total))
