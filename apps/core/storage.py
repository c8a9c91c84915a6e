"""Where artifacts live, and the one content-addressed writer.

Everything a job or an upload stores goes under the data folder (settings.DATA_DIR) in a fixed layout,
and rows keep paths relative to it, so the folder can move between hosts. This is the one module to change
when artifacts move to an S3-compatible store.

Writes are atomic: the bytes go to a temporary file in the target folder, are flushed to disk and then
renamed into place, so a reader never sees half a file and a crash leaves no file under the final name.
A full disk is reported as StorageFull (a clear message, 507), never as a bare OSError.
"""
import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from apps.core.errors import StorageFull

# The layout, relative to the data folder.
DATASETS = Path("artifacts") / "datasets"
SPLITS = Path("artifacts") / "splits"
FEATURES = Path("artifacts") / "features"
CHECKPOINTS = Path("artifacts") / "checkpoints"
REPORTS = Path("artifacts") / "reports"
PACKAGES = Path("artifacts") / "packages"


def root() -> Path:
    return Path(settings.DATA_DIR)


def absolute(relative: str | Path) -> Path:
    return root() / relative


def relative(path: str | Path) -> str:
    """A path under the data folder as stored in rows (relative, so the folder can move)."""
    return str(Path(path).resolve().relative_to(root().resolve()))


def features_dir() -> Path:
    """Frozen-encoder features, shared by baselines, bake-offs, heads and label audits."""
    return absolute(FEATURES)


def checkpoint_dir(job_id: int) -> Path:
    return absolute(CHECKPOINTS) / f"job-{job_id}"


def package_dir(job_id: int) -> Path:
    return absolute(PACKAGES) / f"job-{job_id}"


def report_dir(job_id: int) -> Path:
    return absolute(REPORTS) / f"job-{job_id}"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the disk or the quota is full. Writers in Rust or C
    (safetensors, say) raise their own error types; their message still carries the OS's words."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        if any(words in str(exc) for words in ("No space left on device", "Disk quota exceeded")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


NO_SPACE_MESSAGE = "The data folder is full: nothing was stored. Free some space (or ask an admin to), then try again."


@contextlib.contextmanager
def space_errors():
    """Turn a full disk inside the block into StorageFull; the block cleans up its own temporary files."""
    try:
        yield
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise StorageFull(NO_SPACE_MESSAGE) from exc
        raise


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _fsync(tmp)  # the bytes reach the disk before the name does
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def remove_job_folders(job_id: int) -> None:
    """Remove what a job that did not succeed left under its own folders (a checkpoint, a package or a
    report half-written when it failed, was cancelled or died). Content-addressed files are shared, so
    they stay; nothing registered points into these folders, since only a succeeded job registers."""
    for folder in (checkpoint_dir(job_id), package_dir(job_id), report_dir(job_id)):
        shutil.rmtree(folder, ignore_errors=True)


def write_content_addressed(folder: Path, sha256: str, *, suffix: str, data: bytes | None = None,
                            tmp_path: Path | None = None) -> tuple[str, bool]:
    """Store content under ``folder/<sha256><suffix>`` (folder relative to the data folder) and return
    (relative path, created). Give the content either as ``data`` or as a finished temporary file
    ``tmp_path`` on the same filesystem (it is moved, or removed when the content is already stored).
    Content already present under its hash is not written again."""
    if (data is None) == (tmp_path is None):
        raise TypeError("give either data or tmp_path")
    stored = Path(folder) / f"{sha256}{suffix}"
    target = absolute(stored)
    if target.exists():
        if tmp_path is not None:
            Path(tmp_path).unlink(missing_ok=True)
        return str(stored), False
    try:
        with space_errors():
            if tmp_path is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
                tmp_path = Path(name)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
            _move_into_place(Path(tmp_path), target)
    except BaseException:
        if tmp_path is not None:
            Path(tmp_path).unlink(missing_ok=True)
        raise
    return str(stored), True


def incoming_file(folder: Path) -> tuple[int, Path]:
    """A temporary file in ``folder`` (relative to the data folder) for content still being received,
    on the same filesystem as its final place; hand it to write_content_addressed when complete."""
    target = absolute(folder)
    target.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target, prefix=".incoming-")
    return fd, Path(name)
