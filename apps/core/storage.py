"""Where artifacts live, and the one content-addressed writer.

Everything a job or an upload stores goes under the data folder (settings.DATA_DIR) in a fixed layout,
and rows keep paths relative to it, so the folder can move between hosts. This is the one module to change
when artifacts move to an S3-compatible store.

Writes are atomic: the bytes go to a temporary file in the target folder, are flushed to disk and then
renamed into place, so a reader never sees half a file and a crash leaves no file under the final name.
"""
import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

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


def _move_into_place(tmp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


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
    if tmp_path is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        tmp_path = Path(name)
    _move_into_place(Path(tmp_path), target)
    return str(stored), True


def incoming_file(folder: Path) -> tuple[int, Path]:
    """A temporary file in ``folder`` (relative to the data folder) for content still being received,
    on the same filesystem as its final place; hand it to write_content_addressed when complete."""
    target = absolute(folder)
    target.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target, prefix=".incoming-")
    return fd, Path(name)
