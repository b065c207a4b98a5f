"""Attachment storage: type sniffing, safe names, content-addressed atomic writes (workflows.attachments)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.workflow_helpers import start_report
from workflows.attachments import (
    HEIC,
    JPEG,
    PDF,
    PNG,
    WEBP,
    Upload,
    UploadPolicy,
    attachment_path,
    check_uploads,
    display_filename,
    open_attachment,
    sniff_type,
    store_attachment,
)
from workflows.errors import NotFound
from workflows.models import Attachment


def image_bytes(kind: str, size: tuple[int, int] = (8, 6), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=kind)
    return buffer.getvalue()


POLICY = UploadPolicy(max_bytes=64 * 1024, max_count=3)


def stored_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file()) if directory.exists() else []


def test_type_comes_from_magic_bytes() -> None:
    assert sniff_type(image_bytes("JPEG")) == JPEG
    assert sniff_type(image_bytes("PNG")) == PNG
    assert sniff_type(image_bytes("WEBP")) == WEBP
    assert sniff_type(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == HEIC
    assert sniff_type(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") == PDF
    assert sniff_type(image_bytes("GIF")) is None
    assert sniff_type("这不是图片".encode()) is None
    assert sniff_type(b"") is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\李大勇\\现场照片.jpg", "现场照片.jpg"),
        ("../../etc/passwd", "passwd"),
        ("配电\x00箱\x1f.png", "配电箱.png"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("  ..  ", "未命名文件"),
        ("", "未命名文件"),
    ],
)
def test_display_filename_keeps_chinese_and_drops_paths_and_controls(raw: str, shown: str) -> None:
    assert display_filename(raw) == shown


def test_long_filename_is_shortened_keeping_its_extension() -> None:
    name = display_filename("隐" * 300 + ".jpeg")
    assert len(name) == 200
    assert name.endswith("隐.jpeg")


def test_store_writes_at_the_content_address_once(world: Session, tmp_path: Path) -> None:
    case = start_report(world)
    data = image_bytes("JPEG")
    first = store_attachment(
        world, tmp_path, case.id, None, filename="现场.jpg", data=data, uploaded_by_id=None, policy=POLICY
    )
    sha = hashlib.sha256(data).hexdigest()
    path = tmp_path / sha[:2] / sha
    assert first.sha256 == sha
    assert (first.filename, first.content_type, first.size, first.task_id) == ("现场.jpg", JPEG, len(data), None)
    assert path.read_bytes() == data
    before = path.stat()

    second = store_attachment(
        world, tmp_path, case.id, None, filename="again.jpg", data=data, uploaded_by_id=None, policy=POLICY
    )
    assert second.id != first.id and second.sha256 == sha
    after = path.stat()
    # Not written twice: same file object, untouched; and no temporary file left behind.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert stored_files(tmp_path) == [path]
    with open_attachment(tmp_path, sha) as stream:
        assert stream.read() == data


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("动图.gif", image_bytes("GIF"), "附件：文件“动图.gif”不是 JPEG 或 PNG 图片"),
        ("photo.jpg", "我是一个改了扩展名的文本文件".encode(), "附件：文件“photo.jpg”不是 JPEG 或 PNG 图片"),
        ("a.webp", image_bytes("WEBP"), "附件：文件“a.webp”不是 JPEG 或 PNG 图片（实为 WebP）"),
        ("empty.png", b"", "附件：文件“empty.png”是空文件"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64 * 1024, "附件：文件“big.png”超过 64 KB"),
    ],
)
def test_refused_file_writes_nothing(world: Session, tmp_path: Path, filename: str, data: bytes, message: str) -> None:
    case = start_report(world)
    with pytest.raises(FormValidationError) as refused:
        store_attachment(
            world, tmp_path, case.id, None, filename=filename, data=data, uploaded_by_id=None, policy=POLICY
        )
    assert refused.value.errors == {"attachments": message}
    assert stored_files(tmp_path) == []
    assert world.scalar(select(func.count()).select_from(Attachment).where(Attachment.instance_id == case.id)) == 0


def test_policy_may_allow_other_types(world: Session, tmp_path: Path) -> None:
    case = start_report(world)
    policy = UploadPolicy(max_bytes=64 * 1024, allowed_types=frozenset({WEBP}))
    stored = store_attachment(
        world,
        tmp_path,
        case.id,
        "task-1",
        filename="a.webp",
        data=image_bytes("WEBP"),
        uploaded_by_id=None,
        policy=policy,
    )
    assert (stored.content_type, stored.task_id) == (WEBP, "task-1")
    with pytest.raises(FormValidationError, match="不是 WebP 图片"):
        check_uploads([Upload("b.jpg", image_bytes("JPEG"))], policy, field="f", label="照片")


def test_check_reports_every_problem_of_a_field_at_once() -> None:
    uploads = [Upload(f"{index}.gif", image_bytes("GIF")) for index in range(4)]
    with pytest.raises(FormValidationError) as refused:
        check_uploads(uploads, POLICY, field="photos", label="现场照片")
    message = refused.value.errors["photos"]
    assert message.startswith("现场照片：最多上传 3 个文件，本次选择了 4 个")
    assert all(f"文件“{index}.gif”" in message for index in range(4))


def test_open_attachment_refuses_missing_and_malformed_hashes(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        open_attachment(tmp_path, "0" * 64)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(NotFound):
            open_attachment(tmp_path, bad)
        with pytest.raises(NotFound):
            attachment_path(tmp_path, bad)
