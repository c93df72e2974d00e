"""Write schemas/public/views.yaml, the column types of the public BI views, from a built lake.

Those types are the contract dbt enforces on the public models (`contract: {enforced: true}`):
a view whose column is renamed, dropped or retyped fails the build, so BI tools never meet a
silent change. `make generate` copies them into models/public/_public__models.yml. Change the
contract on purpose: build a lake with the new views, run this, review the diff, commit.

    .venv/bin/python scripts/public_contract.py --lake demo/lake
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from jobs.dbt.public_docs import CONTRACT, CONTRACT_HEADER, PUBLIC_DIR, view_alias  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="a lake the current dbt project has built")
    args = parser.parse_args(argv)

    import os

    os.environ["REGULAKE__LAKE__ROOT"] = str(Path(args.lake).resolve())
    from regulake.spark import get_spark

    spark = get_spark()
    contract = {}
    for path in sorted(PUBLIC_DIR.glob("pub_*.sql")):
        schema = spark.table(f"public.{view_alias(path)}").schema
        contract[path.stem] = {field.name: field.dataType.simpleString() for field in schema.fields}
    CONTRACT.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT.write_text(CONTRACT_HEADER + yaml.safe_dump(contract, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
    print(f"{len(contract)} public views' column types written to {CONTRACT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
