"""Uploaded files: checked, stored outside the database under their SHA-256, and recorded as attachments.

The bytes live in `<directory>/<sha[:2]>/<sha>` (content-addressed): the same photo uploaded twice is written
once, a stored file never changes, and the approval record can print the hash that names it. The database row
(workflows.models.Attachment) carries the display name, type, size and hash.

What a file is comes from its first bytes, never from the client's Content-Type header or the file name's
extension: both are chosen by the uploader. Only JPEG and PNG are accepted by default because every browser
shows them and WeasyPrint can embed them; WebP and HEIC are recognised so that a policy may allow them and so
that the refusal can name what was sent (phones save HEIC by default; browsers convert it to JPEG on upload).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.errors import NotFound
from workflows.models import Attachment

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
# Scanned documents (整改回复, 通报文件) arrive as PDF; they are always served as downloads, never inline.
PDF = "application/pdf"

TYPE_NAMES: dict[str, str] = {JPEG: "JPEG", PNG: "PNG", PDF: "PDF", WEBP: "WebP", HEIC: "HEIC"}
# Brands of the ISO base media "ftyp" box that mean an HEIF/HEIC still image.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_FILENAME_LENGTH = 200
UNNAMED = "未命名文件"


@dataclasses.dataclass(frozen=True)
class UploadPolicy:
    """What one upload field accepts. Limits are passed in (configuration), never hard-coded per caller."""

    max_bytes: int
    allowed_types: frozenset[str] = dataclasses.field(default_factory=lambda: frozenset({JPEG, PNG}))
    max_count: int | None = None

    def allowed_names(self) -> str:
        names = [TYPE_NAMES.get(kind, kind) for kind in sorted(self.allowed_types, key=_type_order)]
        return " 或 ".join(names)


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file as the client sent it: its claimed name and its bytes."""

    filename: str
    data: bytes


@dataclasses.dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the policy: a safe display name, the sniffed type and the content address."""

    filename: str
    content_type: str
    data: bytes
    sha256: str


def _type_order(kind: str) -> int:
    order = list(TYPE_NAMES)
    return order.index(kind) if kind in order else len(order)


def sniff_type(data: bytes) -> str | None:
    """The type named by the file's magic bytes (an image or PDF), or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return HEIC
    return None


def display_filename(raw: str) -> str:
    """A name fit to show and store: no folders, no control or direction-override characters, Chinese kept."""
    name = unicodedata.normalize("NFC", raw or "")
    # Browsers on Windows used to send the full path; either separator may appear whatever the server's OS.
    name = re.split(r"[/\\]", name)[-1]
    # Cc: control characters; Cf: invisible format characters such as U+202E, which can disguise "gpj.exe".
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    name = name.strip().lstrip(".").strip()
    if not name:
        return UNNAMED
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = f"{stem[: MAX_FILENAME_LENGTH - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name


def size_text(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, size // 1024)} KB"


def upload_problem(upload: Upload, policy: UploadPolicy) -> str | None:
    """Why this one file is refused (without the field label), or None."""
    name = display_filename(upload.filename)
    if not upload.data:
        return f"文件“{name}”是空文件"
    if len(upload.data) > policy.max_bytes:
        return f"文件“{name}”超过 {size_text(policy.max_bytes)}"
    kind = sniff_type(upload.data)
    if kind not in policy.allowed_types:
        sent = f"（实为 {TYPE_NAMES[kind]}）" if kind in TYPE_NAMES else ""
        noun = "文件" if PDF in policy.allowed_types else "图片"
        return f"文件“{name}”不是 {policy.allowed_names()} {noun}{sent}"
    return None


def check_uploads(uploads: Sequence[Upload], policy: UploadPolicy, *, field: str, label: str) -> list[CheckedUpload]:
    """Check every file of one field; all problems are reported together under `field`, in Chinese.

    Nothing is written here, so a refused submission leaves no file behind.
    """
    problems = []
    if policy.max_count is not None and len(uploads) > policy.max_count:
        problems.append(f"最多上传 {policy.max_count} 个文件，本次选择了 {len(uploads)} 个")
    problems += [problem for upload in uploads if (problem := upload_problem(upload, policy)) is not None]
    if problems:
        raise FormValidationError({field: f"{label}：{'；'.join(problems)}"})
    return [
        CheckedUpload(
            filename=display_filename(upload.filename),
            content_type=sniff_type(upload.data) or "application/octet-stream",
            data=upload.data,
            sha256=hashlib.sha256(upload.data).hexdigest(),
        )
        for upload in uploads
    ]


def attachment_path(directory: str | Path, sha256: str) -> Path:
    """Where the file with this hash lives; refuses anything that is not a SHA-256 (no path tricks)."""
    if not _SHA256.fullmatch(sha256):
        raise NotFound("附件不存在")
    return Path(directory) / sha256[:2] / sha256


def write_content(directory: str | Path, data: bytes) -> str:
    """Store the bytes under their hash unless already there; returns the hash.

    Written to a temporary file in the target folder and renamed with os.replace, so a reader never sees a
    partial file and two writers of the same content both end with the same complete file.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    path = attachment_path(directory, sha256)
    if path.is_file():
        return sha256
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256


def store_checked(
    session: Session,
    directory: str | Path,
    instance_id: int,
    task_id: str | None,
    upload: CheckedUpload,
    uploaded_by_id: int | None,
) -> Attachment:
    """Write a checked upload and add its attachment row (flushed; the caller commits)."""
    write_content(directory, upload.data)
    attachment = Attachment(
        instance_id=instance_id,
        task_id=task_id,
        filename=upload.filename,
        content_type=upload.content_type,
        size=len(upload.data),
        sha256=upload.sha256,
        uploaded_by_id=uploaded_by_id,
    )
    session.add(attachment)
    session.flush()
    return attachment


def store_attachment(
    session: Session,
    directory: str | Path,
    instance_id: int,
    task_id: str | None,
    *,
    filename: str,
    data: bytes,
    uploaded_by_id: int | None,
    policy: UploadPolicy,
    field: str = "attachments",
    label: str = "附件",
) -> Attachment:
    """Check one file against `policy`, store it and record it on the case (or on one of its tasks).

    There is deliberately no content-type argument: the client's claim is never trusted, the type is sniffed.
    Raises FormValidationError({field: "<label>：..."}) before anything is written when the file is refused.
    """
    (checked,) = check_uploads([Upload(filename, data)], policy, field=field, label=label)
    return store_checked(session, directory, instance_id, task_id, checked, uploaded_by_id)


def open_attachment(directory: str | Path, sha256: str) -> BinaryIO:
    """The stored file for reading (binary); NotFound when there is no such file."""
    try:
        return attachment_path(directory, sha256).open("rb")
    except FileNotFoundError:
        raise NotFound("附件不存在") from None
