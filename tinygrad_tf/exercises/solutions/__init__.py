"""REFERENCE SOLUTIONS to the write-it-yourself exercises — try each exercise yourself first.

One file per notebook (n01_chain_rule.py ... n13_lets_build_gpt.py). Each is one way
to write the answer, in plain NumPy (or, for a Tensor function, with the engine's modules),
and the tests check that every grader accepts it:

    python -m tinygrad_tf check softmax_backward tinygrad_tf/exercises/solutions/n03_self_attention.py
"""
