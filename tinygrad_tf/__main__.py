"""Command line: `python -m tinygrad_tf [demo | graph | explore | gradcheck | residuals]`."""
import argparse
import sys


def demo(args):
    """The chain rule on a number and on arrays, then a Transformer learns to reverse digits."""
    from .demo import main as run_demo
    return run_demo(args)


def _traced_block(args):
    """One block (args.block, .activation, .norm_first), a loss on its output and the
    trace of that loss's backward."""
    import numpy as np

    import tinygrad_tf as tg
    from tinygrad_tf import nn

    nn.manual_seed(0)
    block_class = nn.DecoderBlock if args.block == "decoder" else nn.EncoderBlock
    block = block_class(16, 2, 32, activation=args.activation, norm_first=args.norm_first)
    x = tg.randn(2, 4, 16, seed=0, requires_grad=True)
    out = block(x, tg.randn(2, 5, 16, seed=1)) if args.block == "decoder" else block(x)
    loss = (out * tg.Tensor(np.random.default_rng(2).standard_normal(out.shape))).sum()
    with tg.trace() as tr:
        loss.backward()
    return loss, tr


def graph(args):
    """Draw one block's graph after one traced backward; the format from the file's extension."""
    from tinygrad_tf import viz

    loss, tr = _traced_block(args)
    try:
        viz.save(viz.draw_graph(loss, trace=tr, depth=args.depth), args.output)
    except (viz.GraphvizNotFound, ValueError) as e:
        print(f"graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: a {'pre' if args.norm_first else 'post'}-LN {args.block} block "
          f"({args.activation}), edges labelled with the gradient norm of one backward")
    return 0


def explore(args):
    """Write the page that steps through one traced backward: a block, a small Transformer
    (--model) or a Value expression (--value)."""
    import numpy as np

    import tinygrad_tf as tg
    from tinygrad_tf import nn, viz

    if args.value:                     # the example of docs/seeing.md's trace table
        a, b, c = tg.Value(2.0, "a"), tg.Value(-0.5, "b"), tg.Value(0.3, "c")
        loss = (a * b + c).tanh()
        loss.label, what = "L", "the Value expression L = tanh(a·b + c)"
        with tg.trace() as tr:
            loss.backward()
    elif args.model:                   # a 2-layer encoder-decoder, its sublayers as boxes
        nn.manual_seed(0)
        model = nn.Transformer(11, 13, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                               activation=args.activation, norm_first=args.norm_first)
        logits = model(np.array([[1, 2, 3, 4]]), np.array([[1, 5, 6]]))
        loss = nn.functional.cross_entropy(logits, np.array([[5, 6, 2]]))   # next target tokens
        loss.name = "the cross-entropy loss"
        with tg.trace() as tr:
            loss.backward()
        args.depth = 2 if args.depth is None else args.depth
        what = "a 2-layer encoder-decoder Transformer"
    else:
        loss, tr = _traced_block(args)
        loss.name = f"Σ {args.block} block output × random weights"
        what = f"a {'pre' if args.norm_first else 'post'}-LN {args.block} block ({args.activation})"
    try:
        path = viz.explore(loss, tr, args.output, depth=args.depth)
    except (viz.GraphvizNotFound, OSError) as e:
        print(f"explore: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {len(tr.steps)} steps of the backward of {what}; open it in a browser")
    return 0


def gradcheck(args):
    """Every op and layer against finite differences, as a table; 1 if any row fails."""
    from .selfcheck import main as selfcheck
    return selfcheck()


def residuals(args):
    """Skip path versus sublayer through a deep stack, post-LN against pre-LN."""
    from .selfcheck import residual_stacks
    for label, report in residual_stacks(args.layers).items():
        print(f"{label}: gradient at the first block's input / at the last one's = {report.gain:.3g}")
        print(report, end="\n\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygrad_tf", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    from .demo import add_arguments
    add_arguments(sub.add_parser("demo", help="run the demo (the default)"))
    p = sub.add_parser("graph", help="draw the graph of one block after a traced backward")
    p.add_argument("-o", "--output", required=True, help="file to write: .svg, .png, .pdf or .dot")
    p.add_argument("--block", choices=["encoder", "decoder"], default="encoder")
    p.add_argument("--norm-first", action="store_true", help="pre-LN (default: post-LN)")
    p.add_argument("--activation", choices=["relu", "gelu", "swiglu"], default="relu")
    p.add_argument("--depth", type=int, default=None, help="collapse modules below this depth")
    p = sub.add_parser("explore", help="write an HTML page that steps through one traced backward")
    p.add_argument("-o", "--output", required=True, help="the .html file to write")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--block", choices=["encoder", "decoder"], default="encoder",
                      help="which block to trace (default: encoder)")
    what.add_argument("--model", action="store_true", help="a 2-layer encoder-decoder Transformer")
    what.add_argument("--value", action="store_true", help="a Value expression (exact numbers)")
    p.add_argument("--norm-first", action="store_true", help="pre-LN (default: post-LN)")
    p.add_argument("--activation", choices=["relu", "gelu", "swiglu"], default="relu")
    p.add_argument("--depth", type=int, default=None,
                   help="draw modules at this depth as boxes (--model: 2, sublayers)")
    sub.add_parser("gradcheck", help="gradcheck every op and layer; exit 1 if any fails")
    p = sub.add_parser("residuals", help="residual report of a deep stack, post-LN vs pre-LN")
    p.add_argument("--layers", type=int, default=12)
    args = parser.parse_args(argv)
    commands = {"demo": demo, None: demo, "graph": graph, "explore": explore, "gradcheck": gradcheck,
                "residuals": residuals}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
