"""`python -m jobs.silver`: rewrite the reviewed GX suites in expectations/ from schemas/ and conf/quality.yaml."""

from jobs.silver.expectations import write_suites
from regulake.config import PROJECT_ROOT

for path in write_suites():
    print(path.relative_to(PROJECT_ROOT))
