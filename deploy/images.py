"""Third-party images by digest: find every image reference of the deployment, resolve
its tag to the registry's digest, and write it as ``name:tag@sha256:…``.

    python deploy/images.py pin       # make pin-images: needs the registries (HTTPS)
    python deploy/images.py check     # every reference pinned, or allowed with a reason
    python deploy/images.py list

References are read from docker-compose*.yml, the Kubernetes manifests (``image:``,
``imageName:``) and the Dockerfiles (``FROM``, ``ARG *_IMAGE=``). The images built from
this repository (rescue/*, rescue-*) are pinned by their release tag in the overlays
instead. A reference that cannot be pinned yet is listed, with the reason, in
deploy/images.allow; ``pin`` removes the entries it pinned. The tag stays in the
reference beside the digest (for people and update tools); the digest is what pulls.
Where each pinned digest came from is in deploy/images.digests: ``pin`` records the
registry it asked, a digest pinned by hand names the public sources that agree on it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOW = ROOT / "deploy/images.allow"
DIGESTS = ROOT / "deploy/images.digests"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Built here, tagged by release: never pulled from a public registry.
OWN = re.compile(r"^(rescue/|rescue-|registry\.example\.org/rescue/)")
_LINE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?(?:image|imageName):\s*|FROM\s+|ARG\s+\w+_IMAGE=)"
    r"(?P<ref>[^\s#]+)"
)
# what a manifest HEAD accepts: a multi-architecture index first, as `docker pull` does
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class Reference:
    path: Path
    line: int
    ref: str

    @property
    def pinned(self) -> bool:
        return bool(DIGEST.search(self.ref))

    @property
    def own(self) -> bool:
        return bool(OWN.match(self.ref))


def files() -> list[Path]:
    found = sorted(ROOT.glob("docker-compose*.yml"))
    found += sorted((ROOT / "deploy").rglob("*.y*ml"))
    found += sorted((ROOT / "deploy").rglob("*Dockerfile"))
    return found


def references() -> list[Reference]:
    """Every image reference of the deployment, with where it is."""
    found = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE))
        for number, line in enumerate(text.splitlines(), 1):
            match = _LINE.match(line)
            if not match:
                continue
            ref = match["ref"].strip("\"'")
            # FROM ${PYTHON_IMAGE}: its ARG default is the reference; FROM builder: a stage
            if ref.startswith("$") or ref in stages or ref == "scratch":
                continue
            found.append(Reference(path, number, ref))
    return found


def _records(path: Path) -> dict[str, str]:
    """`<reference> <text>` lines, comments and blank lines skipped."""
    entries = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        if text.strip() and not text.lstrip().startswith("#"):
            ref, _, rest = text.strip().partition(" ")
            entries[ref] = rest.strip()
    return entries


def allowed() -> dict[str, str]:
    """deploy/images.allow: reference -> why it is not pinned by digest yet."""
    return _records(ALLOW)


def provenance() -> dict[str, str]:
    """deploy/images.digests: pinned reference -> where its digest came from."""
    return _records(DIGESTS) if DIGESTS.exists() else {}


def problems() -> list[str]:
    """References neither pinned nor allowed with a reason, pins that do not say where
    their digest came from, and allowances or provenance lines left over."""
    found = [r for r in references() if not r.own]
    allow = allowed()
    wrong = [
        f"{r.path.relative_to(ROOT)}:{r.line}: {r.ref} is not pinned by digest "
        "(make pin-images) nor in deploy/images.allow with a reason"
        for r in found
        if not r.pinned and not allow.get(r.ref)
    ]
    unpinned = {r.ref for r in found if not r.pinned}
    wrong += [
        f"deploy/images.allow: {ref} is not used unpinned anywhere: remove it"
        for ref in allow
        if ref not in unpinned
    ]
    sources = provenance()
    wrong += [
        f"{r.path.relative_to(ROOT)}:{r.line}: {r.ref} is pinned, but deploy/images.digests "
        "does not say where its digest came from"
        for r in found
        if r.pinned and not sources.get(r.ref)
    ]
    pinned = {r.ref for r in found if r.pinned}
    wrong += [
        f"deploy/images.digests: {ref} is not used anywhere: remove it"
        for ref in sources
        if ref not in pinned
    ]
    return wrong


# ------------------------------------------------------------ the registry ---


def split(ref: str) -> tuple[str, str, str]:
    """(registry host, repository, tag) of a reference, as docker reads it."""
    name, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        host, repository = name.split("/", 1)
    else:
        host, repository = "registry-1.docker.io", name
        if "/" not in repository:
            repository = f"library/{repository}"
    return host, repository, tag


def _token(challenge: str, repository: str) -> str | None:
    """An anonymous pull token from the registry's Bearer challenge."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if "realm" not in fields:
        return None
    query = f"service={fields.get('service', '')}&scope=repository:{repository}:pull"
    with urllib.request.urlopen(f"{fields['realm']}?{query}", timeout=20) as answer:
        body = json.load(answer)
    return body.get("token") or body.get("access_token")


def resolve(ref: str) -> str:
    """The digest the registry serves for the reference's tag (``sha256:…``)."""
    host, repository, tag = split(ref)
    url = f"https://{host}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": ACCEPT}
    for _ in range(2):
        request = urllib.request.Request(url, method="HEAD", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                digest = answer.headers.get("Docker-Content-Digest", "")
                if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                    raise RuntimeError(f"{ref}: the registry sent no digest")
                return digest
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
            if error.code != 401 or "Authorization" in headers or not challenge:
                raise RuntimeError(f"{ref}: HTTP {error.code} from {host}") from None
            token = _token(challenge, repository)
            if token is None:
                raise RuntimeError(f"{ref}: {host} asks for credentials") from None
            headers["Authorization"] = f"Bearer {token}"
    raise RuntimeError(f"{ref}: not resolved")


def pin() -> int:
    """Pins every unpinned third-party reference the registries resolve; returns the
    number left unpinned."""
    wanted = sorted({r.ref for r in references() if not r.own and not r.pinned})
    digests: dict[str, str] = {}
    for ref in wanted:
        try:
            digests[ref] = resolve(ref)
            print(f"{ref} -> {digests[ref]}")
        except (OSError, RuntimeError) as error:
            print(f"{ref}: not pinned ({error})", file=sys.stderr)
    for path in files():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            match = _LINE.match(line)
            if match and match["ref"].strip("\"'") in digests:
                ref = match["ref"].strip("\"'")
                lines[index] = line.replace(ref, f"{ref}@{digests[ref]}", 1)
        if "".join(lines) != text:
            path.write_text("".join(lines), encoding="utf-8")
    keep = [
        line
        for line in ALLOW.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.split(" ", 1)[0].strip() not in digests
    ]
    ALLOW.write_text("".join(keep), encoding="utf-8")
    if digests:
        text = DIGESTS.read_text(encoding="utf-8") if DIGESTS.exists() else ""
        today = date.today().isoformat()
        text += "".join(
            f"{ref}@{digest} registry {split(ref)[0]}, make pin-images {today}\n"
            for ref, digest in digests.items()
        )
        DIGESTS.write_text(text, encoding="utf-8")
    left = len(wanted) - len(digests)
    print(f"{len(digests)} pinned, {left} not (they stay in deploy/images.allow)")
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="images.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pin", "check", "list"))
    args = parser.parse_args(argv)
    if args.command == "list":
        for r in references():
            state = "ours" if r.own else "pinned" if r.pinned else "by tag"
            print(f"{state:7} {r.ref}  ({r.path.relative_to(ROOT)}:{r.line})")
        return 0
    if args.command == "pin":
        return 1 if pin() else 0
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
