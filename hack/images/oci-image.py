#!/usr/bin/env python3
"""Writes an OCI image-layout tar (oci-layout, index.json, blobs/sha256/*) from plain files.

No Docker, no registry: `ctr -n k8s.io images import <tar>` loads the result. Each layer is described by a
spec file with one entry per line (blank lines and lines starting with '#' are skipped):

    file <dest> <host-src> [octal-mode]   regular file (mode defaults to the source's)
    tree <dest> <host-dir> [skip ...]     a host directory copied recursively (symlinks kept as links),
                                          without its top-level children named in `skip`
    link <dest> <target>                  symbolic link
    dir  <dest> [octal-mode]              empty directory

Output is reproducible: entries are sorted, owned by 0:0 and stamped with a fixed mtime, so the same inputs
give the same digests (containerd then shares unchanged layers between rebuilds).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile

MTIME = 0


class Layer:
    """Collects the entries of one layer: path inside the image → how to write it."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple] = {}

    def add_parents(self, dest: str) -> None:
        parts = dest.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent and parent not in self.entries:
                self.entries[parent] = ("dir", 0o755)

    def add(self, dest: str, entry: tuple) -> None:
        dest = dest.strip("/")
        if not dest:
            raise ValueError("empty destination path")
        self.add_parents(dest)
        self.entries[dest] = entry

    def add_tree(self, dest: str, src: str, skip: list[str]) -> None:
        if not os.path.isdir(src):
            raise ValueError(f"tree source is not a directory: {src}")
        self.add(dest, ("dir", 0o755))
        for root, dirs, files in os.walk(src):
            rel_root = os.path.relpath(root, src)
            if rel_root == ".":
                dirs[:] = [d for d in dirs if d not in skip]
                files = [f for f in files if f not in skip]
            dirs.sort()
            base = dest.strip("/") if rel_root == "." else f"{dest.strip('/')}/{rel_root}"
            for name in dirs + sorted(files):
                host = os.path.join(root, name)
                target = f"{base}/{name}"
                st = os.lstat(host)
                if stat.S_ISLNK(st.st_mode):
                    self.add(target, ("link", os.readlink(host)))
                elif stat.S_ISDIR(st.st_mode):
                    self.add(target, ("dir", stat.S_IMODE(st.st_mode)))
                elif stat.S_ISREG(st.st_mode):
                    self.add(target, ("file", host, stat.S_IMODE(st.st_mode)))
            # os.walk does not descend into symlinked directories: they were added as links above.

    def write_tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                entry = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mtime = MTIME
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                kind = entry[0]
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    info.mode = entry[1]
                    tar.addfile(info)
                elif kind == "link":
                    info.type = tarfile.SYMTYPE
                    info.linkname = entry[1]
                    info.mode = 0o777
                    tar.addfile(info)
                else:
                    host, mode = entry[1], entry[2]
                    info.size = os.path.getsize(host)
                    info.mode = mode
                    with open(host, "rb") as fh:
                        tar.addfile(info, fh)
        return buf.getvalue()


def parse_spec(path: str) -> Layer:
    layer = Layer()
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            kind = fields[0]
            try:
                if kind == "file" and len(fields) in (3, 4):
                    src = fields[2]
                    mode = int(fields[3], 8) if len(fields) == 4 else stat.S_IMODE(os.stat(src).st_mode)
                    if not os.path.isfile(src):
                        raise ValueError(f"not a file: {src}")
                    # Follow symlinks on the host: the image gets the real content.
                    layer.add(fields[1], ("file", os.path.realpath(src), mode))
                elif kind == "tree" and len(fields) >= 3:
                    layer.add_tree(fields[1], fields[2], fields[3:])
                elif kind == "link" and len(fields) == 3:
                    layer.add(fields[1], ("link", fields[2]))
                elif kind == "dir" and len(fields) in (2, 3):
                    layer.add(fields[1], ("dir", int(fields[2], 8) if len(fields) == 3 else 0o755))
                else:
                    raise ValueError(f"cannot parse entry {line!r}")
            except (OSError, ValueError) as err:
                raise SystemExit(f"oci-image: {path}:{number}: {err}") from err
    return layer


def canonical_json(obj) -> bytes:
    """Compact JSON with sorted keys: the same object always gives the same bytes, hence the same digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def add_json_blob(blobs: dict, obj) -> tuple:
    """Stores `obj` as a canonical JSON blob; returns its digest and size."""
    data = canonical_json(obj)
    d = digest(data)
    blobs[d] = data
    return d, len(data)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="full image reference, e.g. localhost/haein/pause:3.10")
    parser.add_argument("--out", required=True, help="output tar path")
    parser.add_argument("--layer", action="append", default=[], help="layer spec file (repeatable, bottom first)")
    parser.add_argument("--entrypoint", default="[]", help="JSON array")
    parser.add_argument("--cmd", default="[]", help="JSON array")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--user", default="")
    parser.add_argument("--gzip-level", type=int, default=6)
    args = parser.parse_args()
    if not args.layer:
        raise SystemExit("oci-image: at least one --layer is required")
    tag = args.name.rsplit(":", 1)[1] if ":" in args.name.rsplit("/", 1)[-1] else "latest"

    blobs: dict[str, bytes] = {}
    layer_descs, diff_ids = [], []
    for spec in args.layer:
        raw = parse_spec(spec).write_tar()
        diff_ids.append(digest(raw))
        # mtime=0 keeps the gzip header, and so the layer digest, stable across rebuilds.
        compressed = gzip.compress(raw, compresslevel=args.gzip_level, mtime=0)
        d = digest(compressed)
        blobs[d] = compressed
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(compressed)})

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Entrypoint": json.loads(args.entrypoint) or None,
            "Cmd": json.loads(args.cmd) or None,
            "Env": args.env or None,
            "WorkingDir": args.workdir,
            **({"User": args.user} if args.user else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"hack/images/oci-image.py layer {os.path.basename(s)}"} for s in args.layer],
    }
    config["config"] = {k: v for k, v in config["config"].items() if v is not None}
    config_digest, config_size = add_json_blob(blobs, config)

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layer_descs,
    }
    manifest_digest, manifest_size = add_json_blob(blobs, manifest)

    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": args.name, "org.opencontainers.image.ref.name": tag},
        }],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": canonical_json(index),
    }
    for d, data in blobs.items():
        files["blobs/sha256/" + d.split(":", 1)[1]] = data

    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirname in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(dirname)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o644, MTIME
            tar.addfile(info, io.BytesIO(files[path]))
    os.replace(tmp, args.out)
    print(f"{args.name} {manifest_digest} {os.path.getsize(args.out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
