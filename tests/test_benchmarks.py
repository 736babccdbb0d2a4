"""The kernel benchmark runs at tiny sizes (`--quick`), so it cannot rot unnoticed."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Written out (not imported from the script) so that a workload dropped from the table fails here.
WORKLOADS = ["elementwise", "sum", "sum_dim1", "softmax", "ln_gelu", "matmul1024", "matmul2048",
             "linear_relu", "conv2d", "bert", "mlp_first_step"]


@pytest.mark.slow
def test_bench_kernels_quick():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_kernels.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    # --quick exits non-zero on any exception or result that disagrees with torch
    assert proc.returncode == 0, f"bench_kernels.py --quick failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    first_cells = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    missing = [name for name in WORKLOADS if name not in first_cells]
    assert not missing, f"rows missing from the table: {missing}\n{proc.stdout}"
    # the first-call rows (fresh processes): cold builds programs, the warm second process none
    first_call = {" ".join(cells[:2]): cells[2:] for cells in map(str.split, proc.stdout.splitlines())
                  if cells[:1] == ["mlp_first_step"]}
    assert set(first_call) == {"mlp_first_step cold", "mlp_first_step warm"}, proc.stdout
    unit, built = 9, 10  # columns after the name: 5 times, 4 ratios, then unit and lt rate
    assert [first_call[k][unit] for k in sorted(first_call)] == ["built", "built"], proc.stdout
    assert int(first_call["mlp_first_step cold"][built]) > 0, proc.stdout
    assert first_call["mlp_first_step warm"][built] == "0", proc.stdout
