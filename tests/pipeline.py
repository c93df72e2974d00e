"""The main DAG over a whole landing, as the end-to-end and chaos tests run it: one environment,
one CLI helper, and the lake's Delta commits counted from its logs.

The landing is the shared sample deliveries (defects included) when they sit beside the
repository, else a small generated one: both follow the data exchange standard.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REGULAKE = str(Path(sys.executable).with_name("regulake"))
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "landing"
# The samples' (and the generated landing's) latest batch date.
AS_OF = "2024-03-31"
# Every run of these tests hashes person ids with the same key, so two lakes compare row for row.
PERSON_ID_SALT = "pipeline-tests-person-id-salt-0123456789"


def pipeline_env(**overrides: str) -> dict[str, str]:
    env = os.environ.copy()
    env["REGULAKE__SPARK__MASTER"] = "local[2]"
    # The samples are small: 2 GB of driver heap is plenty, and two xdist workers, each with its own JVM
    # and a test's `regulake run` processes beside the loopback cluster, must fit in the machine's 24 GB.
    env.setdefault("REGULAKE__SPARK__CONF__spark.driver.memory", "2g")
    env["REGULAKE_PERSON_ID_SALT"] = PERSON_ID_SALT
    env.update(overrides)
    return env


def cli(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess:
    result = subprocess.run([REGULAKE, *args], capture_output=True, text=True, env=pipeline_env(), timeout=timeout)
    assert result.returncode == 0, f"regulake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}" \
                                   f"{run_log_tail(result.stderr)}"
    return result


def run_log_tail(output: str, characters: int = 8000) -> str:
    """The end of the run log a `regulake run` names in its output (its detail is there, not on the terminal)."""
    found = re.search(r"^  log: (.+)$", output, re.M)
    if not found or not Path(found.group(1)).is_file():
        return ""
    return f"\n--- end of {found.group(1)}:\n{Path(found.group(1)).read_text(errors='replace')[-characters:]}"


def generate_landing(out: Path) -> Path:
    # Three monthly batches end on AS_OF, as the samples do.
    cli("generate", "--out", str(out), "--enterprises", "300", "--batches", "3", "--seed", "11", "--no-progress")
    return out / "landing"


def delta_logs(lake: Path) -> list[Path]:
    return sorted(lake.glob("*/*/_delta_log"))


def table_versions(lake: Path) -> dict[str, int]:
    """Latest Delta commit number of every table in the lake."""
    from regulake.stage_state import delta_version

    return {f"{log.parent.parent.name}.{log.parent.name}": version for log in delta_logs(lake)
            if (version := delta_version(None, str(log.parent))) is not None}


def commit_count(lake: Path) -> int:
    """Delta commits in the whole lake so far (how far a run has come)."""
    return sum(version + 1 for version in table_versions(lake).values())
