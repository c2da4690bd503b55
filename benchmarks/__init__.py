"""Benchmarks: tinygrad_tf side by side with PyTorch, HIPS autograd, micrograd and
hand-written NumPy. `python -m benchmarks` runs the suite and writes
benchmarks/results/latest.md and latest.json; `--quick` is a one-minute version;
`--profile` shows where a base encoder step spends its time."""
