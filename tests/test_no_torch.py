"""The tests stand without the oracle. With PyTorch hidden (a `torch` package first on
the path whose import fails as an uninstalled one's does), every test module still
collects (here), and the engine's own tests pass; only the comparisons with PyTorch are
skipped (support.torch imports it on first use; the parity modules skip whole). The
whole suite that way: `make test-no-torch`."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HIDE = "raise ModuleNotFoundError(\"No module named 'torch' (hidden)\", name='torch')\n"


def pytest_without_torch(tmp_path, *args):
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(HIDE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_every_test_module_that_names_torch_collects_without_it(tmp_path):
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                     if "torch" in p.read_text(encoding="utf-8") and p.name != "test_no_torch.py")
    run = pytest_without_torch(tmp_path, "--collect-only", *modules)
    assert run.returncode == 0 and "ERROR" not in run.stdout, run.stdout[-3000:]
    collected = int(run.stdout.split(" tests collected")[0].split()[-1])
    assert collected > 500
    skipped_whole = {line.split("] ")[1].split(":")[0] for line in run.stdout.splitlines()
                     if line.startswith("SKIPPED")}
    assert skipped_whole == {"tests/test_interop.py", "tests/test_ported_ops.py",
                             "tests/test_pytorch_parity.py"}           # the parity modules
