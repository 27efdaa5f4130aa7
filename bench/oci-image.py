#!/usr/bin/env python3
"""Writes an OCI image layout for the registry benchmarks: LAYERS layers of SIZE MiB in all,
each a tar of one file of random bytes (gzip-compressed with --gzip), tagged v1.

    bench/oci-image.py DIR SIZE LAYERS [--gzip]
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

root, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
compress = "--gzip" in sys.argv[4:]
os.makedirs(f"{root}/blobs/sha256")


def put(data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    with open(f"{root}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


layers, diff_ids = [], []
for i in range(count):
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = os.urandom((size << 20) // count)
        info = tarfile.TarInfo(f"data{i}")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    diff_ids.append("sha256:" + hashlib.sha256(tar.getvalue()).hexdigest())
    if compress:
        layers.append(put(gzip.compress(tar.getvalue(), 1), "application/vnd.oci.image.layer.v1.tar+gzip"))
    else:
        layers.append(put(tar.getvalue(), "application/vnd.oci.image.layer.v1.tar"))
config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode(),
             "application/vnd.oci.image.config.v1+json")
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config, "layers": layers}).encode(),
               "application/vnd.oci.image.manifest.v1+json")
manifest["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
with open(f"{root}/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(f"{root}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)
