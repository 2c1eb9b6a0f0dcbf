"""Arrays from .npy files and zip archives (.npz, the arrays of a .snnc), sized before read.

Every array is described first from what costs nothing to read: the zip's central directory
(each member's declared size) and the .npy header (shape and dtype, a few hundred bytes
inflated at most). A member is refused before its data is inflated when its header and its
declared size disagree, when it holds Python objects, or when it is compressed beyond any
plausible ratio (a zip bomb); callers check the sizes against the memory budget and read
only the members they need.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npformat

MAX_RATIO = 200  # inflated / compressed bytes above which a large member is a bomb
RATIO_MIN_BYTES = 64 << 20  # members smaller than this may compress as well as they like
NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float


class ArchiveError(ValueError):
    """An archive or .npy file that cannot be what it claims (message without the path)."""


@dataclass(frozen=True)
class ArrayInfo:
    """What a .npy header says about an array, and where its data lies."""

    name: str  # member name in the archive (or the file name)
    shape: tuple[int, ...]
    dtype: np.dtype
    header_len: int  # bytes before the data
    stored: int  # bytes the archive holds for it (compressed size)
    declared: int  # uncompressed bytes the archive declares
    fortran: bool = False
    start: int | None = None  # where a stored member's bytes begin in the zip's file
    crc: int = 0  # the member's CRC-32 as the archive declares it

    @property
    def key(self) -> str:
        """The array's name in np.savez's sense (member name without `.npy`)."""
        return self.name[:-4] if self.name.endswith(".npy") else self.name

    @property
    def nbytes(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n * self.dtype.itemsize

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def describe(self) -> str:
        return f"shape {self.shape}, dtype {self.dtype}"


def read_header(fp: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(shape, dtype, header length, fortran order) of the .npy stream `fp` at its start;
    ArchiveError for a missing or malformed header and for arrays of Python objects."""
    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(fp)
        elif version == (3, 0) and hasattr(npformat, "_read_array_header"):
            shape, fortran, dtype = npformat._read_array_header(fp, version)
        else:
            raise ArchiveError(f"{name}: unsupported .npy format version {version}")
    except ArchiveError:
        raise
    except (ValueError, EOFError, OSError, SyntaxError, TypeError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{name}: not a .npy array ({exc})") from None
    if dtype.hasobject:
        raise ArchiveError(f"{name}: holds Python objects (dtype {dtype}); only numeric "
                           "arrays are read")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise ArchiveError(f"{name}: invalid shape {shape}")
    return tuple(int(d) for d in shape), dtype, int(fp.tell()), bool(fortran)


def npy_info(path: Path) -> ArrayInfo:
    """The header of a .npy file, checked against the file's length (ArchiveError)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        shape, dtype, hlen, fortran = read_header(fh, path.name)
    info = ArrayInfo(path.name, shape, dtype, hlen, size, size, fortran)
    if hlen + info.nbytes != size:
        raise ArchiveError(f"{path.name}: the header declares {info.describe()} "
                           f"({info.nbytes} bytes of data) but the file holds "
                           f"{size - hlen} bytes of data")
    return info


def member_infos(zf: zipfile.ZipFile, names: list[str] | None = None) -> dict[str, ArrayInfo]:
    """ArrayInfo of the members `names` (default: all) of an .npz-like zip, by member name.

    Reads each member's header only; ArchiveError for a member that is not a .npy array,
    whose header disagrees with its declared size, or that is compressed like a bomb."""
    out: dict[str, ArrayInfo] = {}
    wanted = None if names is None else set(names)
    for zi in zf.infolist():
        if zi.is_dir() or (wanted is not None and zi.filename not in wanted):
            continue
        check_ratio(zi)
        start = _stored_start(zf, zi)
        if start is None:  # compressed: inflate the header only
            with zf.open(zi) as fh:
                shape, dtype, hlen, fortran = read_header(fh, zi.filename)
        else:
            zf.fp.seek(start)
            head = io.BytesIO(zf.fp.read(min(zi.file_size, HEADER_MAX)))
            shape, dtype, hlen, fortran = read_header(head, zi.filename)
        info = ArrayInfo(zi.filename, shape, dtype, hlen, zi.compress_size, zi.file_size,
                         fortran, start, zi.CRC)
        if hlen + info.nbytes != zi.file_size:
            raise ArchiveError(f"{zi.filename}: the header declares {info.describe()} "
                               f"({info.nbytes} bytes of data) but the archive declares "
                               f"{zi.file_size - hlen} bytes for it")
        out[zi.filename] = info
    return out


HEADER_MAX = 16 << 10  # bytes read to parse a stored member's .npy header
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header (30 bytes)


def _data_start(fp: IO[bytes], zi: zipfile.ZipInfo) -> int:
    """Where the bytes of member `zi` begin in `fp` (after its local header)."""
    fp.seek(zi.header_offset)
    head = fp.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise ArchiveError(f"{zi.filename}: bad local header")
    fields = _LOCAL_HEADER.unpack(head)
    return zi.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]


def _stored_start(zf: zipfile.ZipFile, zi: zipfile.ZipInfo) -> int | None:
    """The start of a stored, unencrypted member's bytes (None for other members)."""
    if zi.compress_type != zipfile.ZIP_STORED or zi.flag_bits & 0x1 or zf.fp is None:
        return None
    return _data_start(zf.fp, zi)


def check_ratio(zi: zipfile.ZipInfo) -> None:
    """ArchiveError for a large member compressed more than MAX_RATIO times (a zip bomb)."""
    if zi.file_size > RATIO_MIN_BYTES and zi.file_size > MAX_RATIO * max(zi.compress_size, 1):
        raise ArchiveError(
            f"{zi.filename}: {zi.compress_size} compressed bytes declare {zi.file_size} bytes "
            f"(ratio {zi.file_size / max(zi.compress_size, 1):.0f}:1, more than {MAX_RATIO}:1 "
            "for members over 64 MiB); store such arrays uncompressed (numpy.savez)")


def read_member(zf: zipfile.ZipFile, info: ArrayInfo) -> np.ndarray:
    """The array of one member whose header was checked by `member_infos` (the member's CRC
    is verified; ArchiveError on a corrupted or truncated member). Stored members are read
    straight into the array; compressed ones are inflated in chunks."""
    if info.start is not None:
        return _read_stored(zf.fp, info)
    try:
        with zf.open(info.name) as fh:
            arr = npformat.read_array(fh, allow_pickle=False)
            if fh.read(1):  # also reaches the end, where the CRC is checked
                raise ArchiveError(f"{info.name}: data beyond the declared array")
    except ArchiveError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError) as exc:
        raise ArchiveError(f"{info.name}: cannot read the array ({exc})") from None
    if arr.shape != info.shape or arr.dtype != info.dtype:
        raise ArchiveError(f"{info.name}: read {arr.dtype}{arr.shape}, expected "
                           f"{info.describe()}")
    return arr


def _read_stored(fp: IO[bytes], info: ArrayInfo) -> np.ndarray:
    """A stored member's array read in place, its CRC-32 checked over header and data."""
    fp.seek(info.start)
    head = fp.read(info.header_len)
    shape = info.shape[::-1] if info.fortran else info.shape
    arr = np.empty(shape, dtype=info.dtype)
    view = memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else memoryview(b"")
    got = 0
    while got < len(view):
        n = fp.readinto(view[got:])
        if not n:
            raise ArchiveError(f"{info.name}: truncated")
        got += n
    if len(head) != info.header_len or zlib.crc32(view, zlib.crc32(head)) != info.crc:
        raise ArchiveError(f"{info.name}: corrupted (bad CRC-32)")
    return arr.T if info.fortran else arr


class _Window(io.RawIOBase):
    """A read-only, seekable view of bytes [start, start + size) of an open file."""

    def __init__(self, fh: IO[bytes], start: int, size: int) -> None:
        super().__init__()
        self._fh, self._start, self._size, self._pos = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buf: Any) -> int:
        n = max(0, min(len(buf), self._size - self._pos))
        if n == 0:
            return 0
        self._fh.seek(self._start + self._pos)
        got = self._fh.readinto(memoryview(buf)[:n])
        self._pos += got or 0
        return got or 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._pos
        buf = bytearray(max(0, min(n, self._size - self._pos)))
        got = self.readinto(buf)
        return bytes(buf[:got])


def _check_crc(fh: IO[bytes], start: int, zi: zipfile.ZipInfo) -> None:
    """ArchiveError unless the stored bytes of `zi` (at `start` in `fh`) match its CRC-32
    (read in chunks: memory stays bounded whatever the size)."""
    fh.seek(start)
    crc, left = 0, zi.compress_size
    while left > 0:
        chunk = fh.read(min(left, 1 << 20))
        if not chunk:
            raise ArchiveError(f"{zi.filename}: truncated")
        crc = zlib.crc32(chunk, crc)
        left -= len(chunk)
    if crc != zi.CRC:
        raise ArchiveError(f"{zi.filename}: corrupted (bad CRC-32)")


@contextmanager
def nested_zip(path: Path, outer: zipfile.ZipFile, name: str,
               max_bytes: int) -> Iterator[zipfile.ZipFile]:
    """The zip archive stored as member `name` of `outer`, opened without reading it whole.

    A stored (uncompressed) member is opened in place through a window on the file; a
    compressed one is inflated into memory only when its declared size is within `max_bytes`
    and its compression ratio is plausible (ArchiveError otherwise)."""
    zi = outer.getinfo(name)
    if zi.compress_type == zipfile.ZIP_STORED and not zi.flag_bits & 0x1:
        with open(path, "rb") as fh:
            start = _data_start(fh, zi)
            if start + zi.compress_size > os.path.getsize(path):
                raise ArchiveError(f"{name}: truncated ({zi.compress_size} bytes declared)")
            _check_crc(fh, start, zi)
            with zipfile.ZipFile(_Window(fh, start, zi.compress_size)) as inner:
                yield inner
        return
    check_ratio(zi)
    if zi.file_size > max_bytes:
        raise ArchiveError(f"{name}: declares {zi.file_size} bytes, more than the "
                           f"{max_bytes} bytes allowed")
    with zipfile.ZipFile(io.BytesIO(outer.read(name))) as inner:
        yield inner


class LazyArrays(Mapping):
    """The arrays of an .npz file by name (member name without `.npy`), each read on first
    lookup from headers already checked; `failed(exc)` makes the exception raised when a
    member turns out corrupted."""

    def __init__(self, path: Path, infos: dict[str, ArrayInfo],
                 failed: Callable[[Exception], Exception]) -> None:
        self.path = path
        self.infos = {info.key: info for info in infos.values()}
        self._failed = failed
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            info = self.infos[key]
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._cache[key] = read_member(zf, info)
            except (ArchiveError, zipfile.BadZipFile, OSError, KeyError) as exc:
                raise self._failed(exc) from None
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.infos)

    def __len__(self) -> int:
        return len(self.infos)
