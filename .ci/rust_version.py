"""Fails when a locked dependency declares a rust-version newer than the workspace's.

Reads `cargo metadata --locked --format-version 1` on stdin.
"""
import json
import sys

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
ours = next(p["rust_version"] for p in meta["packages"] if p["id"] in members)


def key(version):
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


over = [
    f"{p['name']} {p['version']} needs rust {p['rust_version']}"
    for p in meta["packages"]
    if p.get("rust_version") and key(p["rust_version"]) > key(ours)
]
print(f"workspace rust-version {ours}: {len(meta['packages'])} packages checked, {len(over)} need more")
if over:
    sys.exit("\n".join(over))
