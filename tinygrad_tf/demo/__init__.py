"""The demo application: a small Transformer learns English → Japanese on a corpus
made by a grammar (the notes' sentences among it), and shows what it learned.

The top floor of the package: it uses the library (engine, nn, optim, io, the tools
for seeing, interop) and nothing in the library uses it.

    corpus.py       the grammar, its vocabularies and splits
    translation.py  the model's settings, training loop, checkpoint format, decoding
    app.py          `python -m tinygrad_tf demo` and `translate`: the run, its pictures, its report
                    (and the command-line faces of `explain` and `explore --sentence`)
    explain.py      why did it say 動物? one output word attributed to the source words
    why.py          the report's sections on that, and on the cat sentence's self-attention
"""
from .app import add_arguments, main, positive_int, translate_main


def checkpoint_model(path):
    """The model in a checkpoint: the demo's translator (its own format), or any
    Transformer / TransformerLM saved with `tg.save` and its settings
    (`interop.model_from_checkpoint`)."""
    from .. import interop
    from ..io import load
    from . import translation
    if str(load(path).get("meta.format", "")) == translation.FORMAT:
        return translation.load(path).model
    return interop.model_from_checkpoint(path)


__all__ = ["main", "translate_main", "add_arguments", "positive_int", "checkpoint_model"]
