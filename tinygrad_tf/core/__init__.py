"""The engine, floor 1 of the package: it imports nothing else of tinygrad_tf.

    engine.py   the global switches, `Op` (the node protocol) and the backward loop
    scalar.py   `Value`: the chain rule on one number
    ops.py      the primitive tensor ops, each with its vector-Jacobian product
    fused.py    the fast paths of the layers' hot spots (Linear, LayerNorm, masked
                softmax, GELU, softmax cross-entropy, Embedding), each beside its plain formula
    tensor.py   `Tensor` and the functions that make tensors
"""
