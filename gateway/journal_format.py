"""The journal's on-disk record format, pure and free of I/O: segment header, framing and scan.

A segment is a 16-byte header followed by frames `crc32c u32 | length u32 | kind u8 | id u64 |
payload`; the CRC32C (google-crc32c, hardware accelerated) covers everything after itself.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import google_crc32c
import msgspec

SEGMENT_SUFFIX: Final = ".seg"
SEGMENT_MAGIC: Final = b"CGJ\x01"
HEADER: Final = struct.Struct("<4sIQ")  # magic, format version, base id
HEADER_SIZE: Final = HEADER.size
FORMAT_VERSION: Final = 1

_CRC: Final = struct.Struct("<I")
_TAIL: Final = struct.Struct("<IBQ")  # payload length, kind, id: the part the CRC covers
FRAME_OVERHEAD: Final = _CRC.size + _TAIL.size
# A frame longer than this is a corrupt length field, not a record.
MAX_PAYLOAD: Final = 64 * 1024 * 1024

_crc_value = google_crc32c.value
_crc_extend = google_crc32c.extend


class JournalRecord(msgspec.Struct, frozen=True, array_like=True):
    """One message on its way to Kafka. `ts` is integer nanoseconds (time of receipt/append)."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    sensor_type: str
    ts: int


class Kind(IntEnum):
    DATA = 0
    RELEASED = 1  # payload u64: every id up to it is delivered or dropped
    DROPPED = 2  # payload u64 array: ids the full-journal policy dropped


_encode = msgspec.msgpack.Encoder().encode
_decode_record = msgspec.msgpack.Decoder(JournalRecord).decode
_U64: Final = struct.Struct("<Q")


def segment_name(base_id: int) -> str:
    return f"{base_id:020d}{SEGMENT_SUFFIX}"


def segment_header(base_id: int) -> bytes:
    return HEADER.pack(SEGMENT_MAGIC, FORMAT_VERSION, base_id)


def parse_header(data: bytes) -> int | None:
    """The segment's base id, or None when the header is short or not ours."""
    if len(data) < HEADER_SIZE:
        return None
    magic, version, base_id = HEADER.unpack_from(data)
    if magic != SEGMENT_MAGIC or version != FORMAT_VERSION:
        return None
    return int(base_id)


_DATA: Final = int(Kind.DATA)  # an IntEnum costs struct.pack a conversion per frame
_pack_tail = _TAIL.pack
_pack_crc = _CRC.pack


def frame(kind: Kind, record_id: int, payload: bytes) -> bytes:
    tail = _TAIL.pack(len(payload), kind, record_id)
    return _CRC.pack(_crc_extend(_crc_value(tail), payload)) + tail + payload


def encode_payload(record: JournalRecord) -> bytes:
    return _encode(record)


def encode_payloads(records: Sequence[JournalRecord]) -> list[bytes]:
    return list(map(_encode, records))


def append_data(buf: bytearray, record_id: int, payload: bytes) -> None:
    """Frame one encoded record onto `buf` (FRAME_OVERHEAD + len(payload) bytes)."""
    body = _pack_tail(len(payload), _DATA, record_id) + payload
    buf += _pack_crc(_crc_value(body))
    buf += body


def released_frame(upto_id: int) -> bytes:
    return frame(Kind.RELEASED, upto_id, _U64.pack(upto_id))


def dropped_frame(ids: Sequence[int]) -> bytes:
    return frame(Kind.DROPPED, ids[-1], struct.pack(f"<{len(ids)}Q", *ids))


def dropped_ids(payload: bytes | memoryview) -> tuple[int, ...]:
    return struct.unpack(f"<{len(payload) // 8}Q", payload)


def decode_payload(payload: bytes | memoryview) -> JournalRecord:
    """The record in a payload whose frame was already checked."""
    return _decode_record(payload)


def decode_record(data: bytes | memoryview) -> JournalRecord:
    """The record in one complete frame; raises ValueError when its CRC does not match."""
    length = _TAIL.unpack_from(data, _CRC.size)[0]
    body = bytes(data[_CRC.size : FRAME_OVERHEAD + length])
    if _crc_value(body) != _CRC.unpack_from(data)[0]:
        raise ValueError("crc mismatch")
    return _decode_record(memoryview(body)[_TAIL.size :])


@dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    record_id: int
    offset: int
    size: int
    payload: memoryview


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes `[start, end)` that hold no valid frame.

    `torn` means no valid frame follows up to the end of the data: a cut tail. `frames` is how
    many frames, and `data_frames` how many of them data records, the damaged bytes held, read
    from their own length fields; None when those fields do not lead exactly to `end` (the
    damage hit a length field), and the caller must estimate from the record ids around it.
    """

    start: int
    end: int
    torn: bool
    frames: int | None
    data_frames: int | None

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Scan:
    frames: list[Frame]
    end: int  # offset just past the last good frame
    damage: list[Damage]


def _check(view: memoryview, offset: int, after_id: int) -> Frame | None:
    """The valid frame at `offset`, or None when it is incomplete, corrupt or out of order."""
    if offset + FRAME_OVERHEAD > len(view):
        return None
    (crc,) = _CRC.unpack_from(view, offset)
    length, kind, record_id = _TAIL.unpack_from(view, offset + _CRC.size)
    end = offset + FRAME_OVERHEAD + length
    if length > MAX_PAYLOAD or end > len(view) or kind > Kind.DROPPED:
        return None
    if _crc_value(bytes(view[offset + _CRC.size : end])) != crc:
        return None
    if kind == Kind.DATA and record_id <= after_id:
        return None
    return Frame(Kind(kind), record_id, offset, end - offset, view[offset + FRAME_OVERHEAD : end])


def scan(data: bytes, start: int = HEADER_SIZE, after_id: int = -1) -> Scan:
    """Every good frame from `start` on, resynchronising after damage.

    Data ids must increase (beyond `after_id`). After a bad frame the scan looks, byte by byte,
    for the next offset where a whole frame checks out (CRC32C over its length, kind, id and
    payload), so one damaged record costs that record and no other.
    """
    view = memoryview(data)
    frames: list[Frame] = []
    damage: list[Damage] = []
    offset = start
    last_id = after_id
    end = start
    while offset < len(view):
        found = _check(view, offset, last_id)
        if found is None:
            found = _resync(data, view, offset + 1, last_id)
            stop = len(view) if found is None else found.offset
            damage.append(_damage(view, offset, stop, torn=found is None))
            if found is None:
                break
        frames.append(found)
        if found.kind == Kind.DATA:
            last_id = found.record_id
        offset = end = found.offset + found.size
    return Scan(frames, end, damage)


_KINDS: Final = frozenset(Kind)
_KIND_AT: Final = _CRC.size + 4  # offset of the kind byte in a frame


def _resync(data: bytes, view: memoryview, offset: int, after_id: int) -> Frame | None:
    """The first valid frame at or after `offset`, or None."""
    # The kind byte is checked first (three values of 256): most offsets cost one index.
    for at in range(offset, len(data) - FRAME_OVERHEAD + 1):
        if data[at + _KIND_AT] in _KINDS:
            found = _check(view, at, after_id)
            if found is not None:
                return found
    return None


def _damage(view: memoryview, start: int, end: int, *, torn: bool) -> Damage:
    """Count the frames in `[start, end)` by following their length fields, where they hold."""
    frames = data_frames = 0
    at = start
    while at < end:
        if at + FRAME_OVERHEAD > len(view):
            break  # a header cut short: one frame, kind unknown
        length, kind, _ = _TAIL.unpack_from(view, at + _CRC.size)
        # A data record is never empty: zeros (a tail the file system filled) are no frame.
        if kind not in _KINDS or length > MAX_PAYLOAD or (kind == Kind.DATA and not length):
            return Damage(start, end, torn, None, None)
        frames += 1
        data_frames += kind == Kind.DATA
        at += FRAME_OVERHEAD + length
    if at == end or (torn and at > end):
        return Damage(start, end, torn, frames, data_frames)
    if torn:  # only part of a header was written
        return Damage(start, end, torn, frames + 1, data_frames + 1)
    return Damage(start, end, torn, None, None)
