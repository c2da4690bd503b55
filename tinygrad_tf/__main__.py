"""Command line: `python -m tinygrad_tf COMMAND`, COMMAND one of demo, translate, explain, graph,
explore, gradcheck, residuals, export, exercises, check, experiment (no command: the demo).
`python -m tinygrad_tf COMMAND --help` explains each one."""
import argparse
import os
import sys

DEMO_CHECKPOINT = "out/demo/translator.npz"     # where `demo` (default --out) saves its model


# What each command's -o writes: the extensions it can (graph: any format Graphviz writes).
OUTPUT_KINDS = {"explore": (".html", ".htm"), "explain": (".png", ".svg", ".pdf", ".jpg", ".jpeg"),
                "export": (".pt", ".pth")}


def output_problem(path, command="graph"):
    """Why `path` cannot be written by `command` (None if it can): its folder is missing,
    the path is a folder, or its extension names no format the command writes."""
    from .seeing.graph import FORMATS, format_of
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{path!r} is a directory; give a file name such as {os.path.join(path, 'block.svg')!r}"
    if not os.path.isdir(folder):
        return f"cannot write {path!r}: the folder {folder!r} does not exist"
    if command == "graph" and format_of(path) not in FORMATS:
        return (f"cannot tell the format of {path!r}: end it in .svg, .png, .pdf, .jpg, .dot or "
                f"another extension Graphviz writes")
    kinds = OUTPUT_KINDS.get(command)
    if kinds and not path.lower().endswith(kinds):
        return f"-o {path!r}: {command} writes {' or '.join(kinds)} files; end the name in {kinds[0]}"
    return None


def out_dir_problem(path):
    """Why `path` cannot be the demo's output folder (None if it can, after making it)."""
    if os.path.exists(path) and not os.path.isdir(path):
        return f"--out {path!r} is a file, not a folder"
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        return f"--out {path!r}: cannot make that folder ({e.strerror})"
    return None


def demo(args):
    """The chain rule on a number and on arrays, then a Transformer learns English → Japanese."""
    from .demo import main as run_demo
    return run_demo(args)


def translate(args):
    """Translate an English sentence with the demo's trained model (its checkpoint)."""
    from .demo import translate_main
    return translate_main(args)


def explain(args):
    """Why did the translator say that word? Attribution of one output word to the source
    words (gradient × input, integrated gradients, attention rollout, cross-attention)."""
    from .demo.app import explain_main
    return explain_main(args)


def _traced_block(args):
    """One block (args.block, .activation, .norm_first), a loss on its output and the
    trace of that loss's backward."""
    import numpy as np

    import tinygrad_tf as tg
    from tinygrad_tf import nn

    nn.manual_seed(0)
    block_class = nn.DecoderBlock if args.block == "decoder" else nn.EncoderBlock
    block = block_class(16, 2, 32, activation=args.activation, norm_first=args.norm_first)
    x, memory = tg.randn(2, 4, 16, seed=0, requires_grad=True), tg.randn(2, 5, 16, seed=1)
    x.name, memory.name = "x", "memory"
    out = block(x, memory) if args.block == "decoder" else block(x)
    loss = (out * tg.Tensor(np.random.default_rng(2).standard_normal(out.shape))).sum()
    with tg.trace() as tr:
        loss.backward()
    return loss, tr


def graph(args):
    """Draw one block's graph after one traced backward; the format from the file's extension."""
    import graphviz

    from tinygrad_tf import viz

    loss, tr = _traced_block(args)
    try:
        viz.save(viz.draw_graph(loss, trace=tr, depth=args.depth), args.output)
    except graphviz.CalledProcessError as e:            # dot could not write that format
        print(f"graph: Graphviz failed: {(e.stderr or b'').decode().strip() or e}", file=sys.stderr)
        return 1
    except (viz.GraphvizNotFound, ValueError, OSError) as e:
        print(f"graph: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: a {'pre' if args.norm_first else 'post'}-LN {args.block} block "
          f"({args.activation}), edges labelled with the gradient of one backward")
    return 0


def explore(args):
    """Write the page that steps through one traced backward: a block, a small Transformer
    (--model) or a Value expression (--value)."""
    import numpy as np

    import tinygrad_tf as tg
    from tinygrad_tf import nn, viz

    if args.sentence is not None:      # a real prediction of the demo's trained translator
        from .demo.app import explore_main
        args.checkpoint = args.checkpoint or DEMO_CHECKPOINT
        return explore_main(args)
    if args.checkpoint is not None or args.token is not None or args.versus is not None:
        print("explore: --checkpoint, --token and --versus need --sentence", file=sys.stderr)
        return 2
    if args.value and (args.norm_first or args.activation or args.depth):
        given = [o for o, v in (("--norm-first", args.norm_first), ("--activation", args.activation),
                                ("--depth", args.depth)) if v]
        print(f"explore: --value and {', '.join(given)} conflict: a Value expression has no blocks "
              "or modules (those options shape --block and --model)", file=sys.stderr)
        return 2
    args.activation = args.activation or "relu"
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
    from .seeing.selfcheck import main as selfcheck
    return selfcheck()


def residuals(args):
    """Skip path versus sublayer through a deep stack, post-LN against pre-LN."""
    from .seeing.selfcheck import residual_stacks
    for label, report in residual_stacks(args.layers).items():
        print(f"{label}: gradient at the first block's input / at the last one's = {report.gain:.3g}")
        print(report, end="\n\n")
    return 0


def export(args):
    """A checkpoint's Transformer as a .pt file that plain PyTorch reads safely, torch.load(path):
    the state_dict and the settings (needs torch to write); docs/interop.md rebuilds the
    model from it in torch.nn alone."""
    from .io import CheckpointError
    try:
        from .demo import checkpoint_model
        from .interop import export as export_model
        theirs = export_model(checkpoint_model(args.checkpoint), args.output)
    except (ImportError, OSError, CheckpointError) as e:
        hint = "; train it first with `python -m tinygrad_tf demo`, or pass --checkpoint PATH" \
            if isinstance(e, FileNotFoundError) and args.checkpoint == DEMO_CHECKPOINT else ""
        print(f"{e}{hint}", file=sys.stderr)
        return 1
    n = sum(p.numel() for p in theirs.parameters())
    print(f"wrote {args.output}: a {type(theirs).__name__}'s state_dict and config, {n} parameters; in "
          f"PyTorch: saved = torch.load({args.output!r}), then rebuild it as docs/interop.md shows")
    return 0


def exercises(args):
    """List the exercises at the end of notebooks 01-13 (docs/exercises.md)."""
    from .exercises import list_main
    return list_main(args)


def check(args):
    """Grade your function for one exercise against the engine: exit 0 when every case passes."""
    from .exercises import check_main
    return check_main(args)


BLOCK_HELP = {
    "--norm-first": "pre-LN: x + sublayer(norm(x)) (default: post-LN, norm(x + sublayer(x)))",
    "--activation": "the feed-forward network's activation (default: relu)",
}


def experiment(args):
    """Small trainings side by side on the demo's corpus, testing one of the notes' claims;
    the conclusion is computed from the numbers (docs/seeing.md, "Experiments")."""
    from .demo.experiments import main as run_experiment
    return run_experiment(args)


def make_parser():
    parser = argparse.ArgumentParser(prog="python -m tinygrad_tf", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .demo import add_arguments, positive_int
    add_arguments(sub.add_parser("demo", help="run the demo (the default)", description=demo.__doc__))
    p = sub.add_parser("translate", help="translate English into Japanese with the demo's model",
                       description=translate.__doc__)
    p.add_argument("sentence", nargs="+", help='the English sentence, e.g. "the dog slept on the mat"')
    p.add_argument("--checkpoint", default=DEMO_CHECKPOINT, metavar="PATH",
                   help=f"the demo's checkpoint (default {DEMO_CHECKPOINT})")
    p.add_argument("--attention", action="store_true",
                   help="also print the last decoder layer's cross-attention as a text heatmap")

    p = sub.add_parser("explain", help="attribute one output word of a translation to the source words",
                       description=explain.__doc__)
    p.add_argument("sentence", nargs="+", help='the English sentence, e.g. "the animal didn\'t cross the '
                   'street because it was too tired"')
    p.add_argument("--token", metavar="T", help="the Japanese word to explain (default: the first content "
                   "word of the translation)")
    p.add_argument("--versus", metavar="T2", help="a rival word: explain logit(T) − logit(T2) "
                   "(default: log p(T))")
    p.add_argument("--checkpoint", default=DEMO_CHECKPOINT, metavar="PATH",
                   help=f"the demo's checkpoint (default {DEMO_CHECKPOINT})")
    p.add_argument("-o", "--output", metavar="PNG", help="write the picture: source words × methods")
    p.add_argument("--json", metavar="PATH", help="write the scores as JSON")

    p = sub.add_parser("graph", help="draw the graph of one block after a traced backward",
                       description=graph.__doc__)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="file to write; its extension picks the format: .svg, .png, .pdf, .jpg, "
                        "or any other Graphviz writes, or .dot for the DOT text (needs no Graphviz)")
    p.add_argument("--block", choices=["encoder", "decoder"], default="encoder",
                   help="which block to draw (default: encoder; the decoder one also attends "
                        "to a random memory)")
    p.add_argument("--norm-first", action="store_true", help=BLOCK_HELP["--norm-first"])
    p.add_argument("--activation", choices=["relu", "gelu", "swiglu"], default="relu",
                   help=BLOCK_HELP["--activation"])
    p.add_argument("--depth", type=positive_int, default=None, metavar="N",
                   help="draw each module at nesting depth N as one box holding its ops "
                        "(1: the block's sublayers, self_attn, ffn, norm1, ..., as boxes; 2: their "
                        "linear layers); default: every op")

    p = sub.add_parser("explore", help="write an HTML page that steps through one traced backward",
                       description=explore.__doc__)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .html file to write")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--block", choices=["encoder", "decoder"], default="encoder",
                      help="which block to trace (default: encoder)")
    what.add_argument("--model", action="store_true", help="a 2-layer encoder-decoder Transformer")
    what.add_argument("--value", action="store_true", help="a Value expression (exact numbers)")
    p.add_argument("--norm-first", action="store_true", help=BLOCK_HELP["--norm-first"])
    p.add_argument("--activation", choices=["relu", "gelu", "swiglu"], default=None,
                   help=BLOCK_HELP["--activation"])
    p.add_argument("--depth", type=positive_int, default=None, metavar="N",
                   help="draw each module at nesting depth N as one box (--model: 2, sublayers)")
    p.add_argument("--sentence", metavar="TEXT", help="a real prediction instead: the backward of the demo "
                   "translator's margin for this English sentence (see `explain`)")
    p.add_argument("--checkpoint", metavar="PATH", help=f"with --sentence: the demo's checkpoint "
                   f"(default {DEMO_CHECKPOINT})")
    p.add_argument("--token", metavar="T", help="with --sentence: the Japanese word whose margin is "
                   "traced (default: the first content word)")
    p.add_argument("--versus", metavar="T2", help="with --sentence: the rival word, for logit(T) − logit(T2)")

    sub.add_parser("gradcheck", help="gradcheck every op and layer; exit 1 if any fails",
                   description=gradcheck.__doc__)

    p = sub.add_parser("residuals", help="residual report of a deep stack, post-LN vs pre-LN",
                       description=residuals.__doc__)
    p.add_argument("--layers", type=positive_int, default=12, metavar="N",
                   help="encoder blocks in each stack (default: 12)")

    p = sub.add_parser("export", help="write a checkpoint's model for PyTorch: state_dict + config (.pt)",
                       description=export.__doc__)
    p.add_argument("--checkpoint", default=DEMO_CHECKPOINT, metavar="PATH",
                   help=f"an .npz checkpoint: the demo's (default {DEMO_CHECKPOINT}), or tg.save "
                        "of a model's state_dict with its settings as JSON under 'config'")
    p.add_argument("-o", "--output", default="model.pt", metavar="FILE",
                   help="the .pt file to write (default: model.pt)")

    p = sub.add_parser("exercises", help="list the notebooks' exercises (name, notebook, one line)",
                       description=exercises.__doc__)
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"name", "notebook", "kind": "write" or "predict"}')
    p.add_argument("--stub", metavar="NAME", help="print the starter stub of exercise NAME, to fill in")
    p = sub.add_parser("check", help="grade your function for an exercise against the engine",
                       description=check.__doc__)
    p.add_argument("name", metavar="NAME", help="the exercise, e.g. softmax_backward")
    p.add_argument("file", metavar="FILE.py", help="a Python file defining the function NAME")

    from .demo.experiments import EXPERIMENTS
    p = sub.add_parser("experiment", help="train small models side by side to test a claim of the notes",
                       description=experiment.__doc__)
    p.add_argument("name", choices=list(EXPERIMENTS), metavar="NAME",
                   help="one of: " + ", ".join(EXPERIMENTS))
    p.add_argument("--quick", action="store_true", help="fewer, shorter runs (seconds; what the tests run)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run's weights and batches (default 0)")
    p.add_argument("-o", "--out", default=os.path.join("out", "experiments"), metavar="DIR",
                   help="folder for NAME.png and NAME.html, made if missing (default out/experiments)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the runs and the conclusion as JSON")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    command = args.command or "demo"
    problem = None
    if (command == "graph" or command in OUTPUT_KINDS) and args.output is not None:   # -o FILE
        problem = output_problem(args.output, command)
    elif getattr(args, "out", None) is not None:     # the demo's folder: checked before training
        problem = out_dir_problem(args.out)
    if problem:
        print(f"{command}: {problem}", file=sys.stderr)
        return 1
    commands = {"demo": demo, "translate": translate, "explain": explain, "graph": graph, "explore": explore,
                "gradcheck": gradcheck, "residuals": residuals, "export": export,
                "exercises": exercises, "check": check, "experiment": experiment}
    return commands[command](args)


if __name__ == "__main__":
    sys.exit(main())
