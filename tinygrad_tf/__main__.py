"""Command line: `python -m tinygrad_tf [demo]`."""
import argparse
import sys


def demo(args):
    """The chain rule on one number, then on arrays, checked against finite differences."""
    import numpy as np

    import tinygrad_tf as tg

    print("1. Scalars: L = tanh(a*b + c), backward by the chain rule")
    a, b, c = tg.Value(2.0, "a"), tg.Value(-0.5, "b"), tg.Value(0.3, "c")
    L = (a * b + c).tanh()
    L.backward()
    print(f"   L = {L.data:.6f}; dL/da = {a.grad:.6f}, dL/db = {b.grad:.6f}, dL/dc = {c.grad:.6f}")
    print(f"   by hand: dL/da = (1 - L²)·b = {(1 - L.data ** 2) * b.data:.6f}")

    print("2. Tensors: loss = mean(softmax(x @ W) * y), gradients of x and W")
    x = tg.randn(4, 3, seed=0, dtype=np.float64, requires_grad=True)
    W = tg.randn(3, 5, seed=1, dtype=np.float64, requires_grad=True)
    y = tg.randn(4, 5, seed=2, dtype=np.float64)
    loss = ((x @ W).softmax(axis=-1) * y).mean()
    loss.backward()
    num = tg.numerical_grad(lambda: ((x @ W).softmax(axis=-1) * y).mean(), W)
    print(f"   loss = {loss.item():.6f}; W.grad shape {W.grad.shape}")
    print(f"   max |W.grad - finite differences| = {np.abs(W.grad - num).max():.2e}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_tf", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="run the demo (the default)")
    args = parser.parse_args(argv)
    commands = {"demo": demo, None: demo}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
