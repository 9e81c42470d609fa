"""Content sniffing: what an uploaded file really is, from its first bytes, never from its name."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass

# How many leading bytes ``sniff`` needs.
HEAD_BYTES = 64


@dataclass(frozen=True)
class Sniffed:
    """A recognised file type: MIME type, evidence kind and the usual extension."""

    content_type: str
    kind: str  # photo | document | audio | video
    ext: str


JPEG = Sniffed("image/jpeg", "photo", "jpg")
PNG = Sniffed("image/png", "photo", "png")
GIF = Sniffed("image/gif", "photo", "gif")
WEBP = Sniffed("image/webp", "photo", "webp")
HEIC = Sniffed("image/heic", "photo", "heic")
PDF = Sniffed("application/pdf", "document", "pdf")
DOCX = Sniffed("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", "docx")
XLSX = Sniffed("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", "xlsx")
PPTX = Sniffed("application/vnd.openxmlformats-officedocument.presentationml.presentation", "document", "pptx")
MP3 = Sniffed("audio/mpeg", "audio", "mp3")
M4A = Sniffed("audio/mp4", "audio", "m4a")
AMR = Sniffed("audio/amr", "audio", "amr")
AMR_WB = Sniffed("audio/amr-wb", "audio", "awb")
WAV = Sniffed("audio/wav", "audio", "wav")
MP4 = Sniffed("video/mp4", "video", "mp4")
MOV = Sniffed("video/quicktime", "video", "mov")
THREE_GP = Sniffed("video/3gpp", "video", "3gp")

# Fixed signatures at offset 0, longest first where one is a prefix of another.
_PREFIXES: tuple[tuple[bytes, Sniffed], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
    (b"#!AMR-WB\n", AMR_WB),
    (b"#!AMR\n", AMR),
    (b"ID3", MP3),
)

# ISO base media files (MP4 family): "ftyp" at offset 4, then the major brand.
_FTYP_BRANDS: dict[bytes, Sniffed] = {
    b"heic": HEIC, b"heix": HEIC, b"hevc": HEIC, b"hevx": HEIC, b"heim": HEIC, b"heis": HEIC,
    b"mif1": HEIC, b"msf1": HEIC,
    b"M4A ": M4A, b"M4B ": M4A, b"F4A ": M4A,
    b"qt  ": MOV,
    b"isom": MP4, b"iso2": MP4, b"iso4": MP4, b"iso5": MP4, b"iso6": MP4, b"mp41": MP4, b"mp42": MP4,
    b"avc1": MP4, b"dash": MP4, b"MSNV": MP4, b"M4V ": MP4, b"f4v ": MP4, b"mmp4": MP4,
    b"3gp4": THREE_GP, b"3gp5": THREE_GP, b"3gp6": THREE_GP, b"3g2a": THREE_GP,
}

# Office Open XML: a zip whose [Content_Types].xml is present, told apart by its main folder.
_OOXML_FOLDERS: tuple[tuple[str, Sniffed], ...] = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))


def sniff(head: bytes, path: str | None = None) -> Sniffed | None:
    """The type of a file from its first ``HEAD_BYTES`` bytes; ``path`` lets zip containers be opened.

    Returns None for anything not in the table (scripts, executables, plain zips, HTML...).
    """
    for magic, found in _PREFIXES:
        if head.startswith(magic):
            return found
    if len(head) >= 12 and head[:4] == b"RIFF":
        if head[8:12] == b"WEBP":
            return WEBP
        if head[8:12] == b"WAVE":
            return WAV
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12])
    # MPEG audio frame sync without an ID3 tag: 11 set bits, layer III.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) == 0x02:
        return MP3
    if head.startswith(b"PK\x03\x04") and path is not None:
        return _sniff_ooxml(path)
    return None


def _sniff_ooxml(path: str) -> Sniffed | None:
    """A DOCX/XLSX/PPTX by its parts list; any other zip is not evidence we accept."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for folder, found in _OOXML_FOLDERS:
        if any(n.startswith(folder) for n in names):
            return found
    return None


# Extensions a download name may keep for each type; any other gets the type's own extension.
_EXT_ALIASES: dict[str, set[str]] = {"image/jpeg": {"jpg", "jpeg", "jpe"}, "image/heic": {"heic", "heif"},
                                     "video/quicktime": {"mov", "qt"}, "audio/wav": {"wav", "wave"}}
_EXT_BY_TYPE: dict[str, str] = {s.content_type: s.ext for s in (
    JPEG, PNG, GIF, WEBP, HEIC, PDF, DOCX, XLSX, PPTX, MP3, M4A, AMR, AMR_WB, WAV, MP4, MOV, THREE_GP)}


def download_name(original: str, content_type: str, fallback: str) -> str:
    """A file name whose extension matches the sniffed type (``photo.png`` holding a PDF -> ``photo.png.pdf``)."""
    name = original or fallback
    ext = _EXT_BY_TYPE.get(content_type)
    if ext is None:
        return name
    current = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if current == ext or current in _EXT_ALIASES.get(content_type, set()):
        return name
    return f"{name}.{ext}"
