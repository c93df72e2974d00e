"""The object store's two setup steps, shared by scripts/cluster.sh and docker/docker-compose.yml.

    python scripts/object_store.py s3-config PATH     SeaweedFS's S3 identity file (mode 0600) for the
                                                       keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    python scripts/object_store.py buckets HOST:PORT  create the buckets `landing` and `lake` (idempotent),
                                                       waiting until the store accepts requests
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

BUCKETS = ("landing", "lake")


def write_s3_config(path: Path) -> None:
    identity = {"name": "regulake",
                "credentials": [{"accessKey": os.environ["AWS_ACCESS_KEY_ID"],
                                 "secretKey": os.environ["AWS_SECRET_ACCESS_KEY"]}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"identities": [identity]}, handle)


def create_buckets(endpoint: str, attempts: int = 60) -> None:
    import pyarrow.fs as pafs

    s3 = pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", allow_bucket_creation=True,
                           region=os.environ.get("AWS_REGION", "us-east-1"))
    for attempt in range(attempts):
        try:
            for bucket in BUCKETS:
                if s3.get_file_info(bucket).type == pafs.FileType.NotFound:
                    s3.create_dir(bucket)
            return
        except OSError as error:  # the filer and volume server come up after the S3 port
            if attempt == attempts - 1:
                raise SystemExit(f"could not create the buckets {BUCKETS} at {endpoint}: {error}") from error
            time.sleep(2)


if __name__ == "__main__":
    command, argument = sys.argv[1:3]
    if command == "s3-config":
        write_s3_config(Path(argument))
    elif command == "buckets":
        create_buckets(argument)
    else:
        raise SystemExit(__doc__)
