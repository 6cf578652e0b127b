#!/usr/bin/env python3
"""Counts the pixels of given colours in a PNG screenshot, and fails when any colour
has fewer than asked: a check that the curves of a chart were drawn (not a blank page).
Standard library only (PNG decoded with zlib).

    scripts/curve-pixels.py SHOT.png '#0072B2:2000' '#D55E00:2000'

A pixel counts for a colour when each channel is within 48 of it (anti-aliased edges
of a 2-pixel line still count; the greys of the grid and the white page do not).
"""
import struct
import sys
import zlib


def pixels(path):
    """Rows of (r, g, b) tuples of an 8-bit RGB or RGBA PNG without interlacing."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        sys.exit(f"{path}: only 8-bit RGB(A) PNGs without interlacing are read")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return rows


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = pixels(sys.argv[1])
    status = 0
    for arg in sys.argv[2:]:
        hexcode, _, least = arg.partition(":")
        want = tuple(int(hexcode.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
        n = sum(1 for row in rows for px in row if all(abs(p - w) <= 48 for p, w in zip(px, want)))
        ok = n >= int(least or 1)
        print(f"curve-pixels: {sys.argv[1]}: {n} pixels of {hexcode} (at least {least or 1})")
        status |= not ok
    sys.exit(status)


if __name__ == "__main__":
    main()
