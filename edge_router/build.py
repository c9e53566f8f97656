"""Build the deployable Lambda@Edge zip reproducibly: same inputs, byte-identical zip."""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from edge_router.settings import SettingsError, load

MODULES = ("__init__.py", "handler.py", "names.py", "resolver.py", "routing.py", "settings.py")
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644
DEFAULT_OUT = Path("build/edge-router.zip")


def _dnspython_files() -> list[tuple[str, bytes]]:
    """The installed dnspython's package files and licence, without bytecode."""
    dist = importlib.metadata.distribution("dnspython")
    out: list[tuple[str, bytes]] = []
    for entry in dist.files or ():
        name = entry.as_posix()
        keep = (name.startswith("dns/") and not name.endswith(".pyc")) or (
            ".dist-info/" in name and "licen" in name.lower()
        )
        if keep and "__pycache__" not in name:
            out.append((name, Path(str(entry.locate())).read_bytes()))
    if not any(name == "dns/__init__.py" for name, _ in out):
        raise FileNotFoundError("dnspython is installed without dns/__init__.py")
    return out


def contents(settings_path: Path | None = None) -> list[tuple[str, bytes]]:
    """Every (archive name, bytes) of the package, sorted by name."""
    here = Path(__file__).parent
    files = [(f"edge_router/{m}", (here / m).read_bytes()) for m in MODULES]
    settings_file = settings_path or here / "settings.json"
    load(settings_file)  # refuse to package settings the handler would reject
    files.append(("edge_router/settings.json", settings_file.read_bytes()))
    files.extend(_dnspython_files())
    return sorted(files)


def write_zip(out: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Write `files` with fixed times, modes and compression; replace `out` atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode bits are honoured
            archive.writestr(info, data, compresslevel=9)
    tmp.replace(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_router.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="zip to write")
    parser.add_argument(
        "--settings", type=Path, default=None, help="settings JSON to bake in instead"
    )
    args = parser.parse_args(argv)
    try:
        files = contents(args.settings)
    except SettingsError as e:
        sys.stderr.write(f"edge_router.build: settings rejected: {e}\n")
        return 2
    except (OSError, importlib.metadata.PackageNotFoundError) as e:
        sys.stderr.write(f"edge_router.build: cannot collect files: {e}\n")
        return 2
    write_zip(args.out, files)
    data = args.out.read_bytes()
    report = {
        "path": str(args.out),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "files": len(files),
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
