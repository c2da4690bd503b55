"""REFERENCE SOLUTIONS for notebook 01 (the chain rule) — try the exercises yourself first."""
import math


def neuron_backward(x1, w1, x2, w2, b):
    o = math.tanh(x1 * w1 + x2 * w2 + b)
    dn = 1.0 - o * o                       # d tanh(n)/dn = 1 - tanh(n)²
    return w1 * dn, x1 * dn, w2 * dn, x2 * dn, dn      # dx1, dw1, dx2, dw2, db


def div_backward(a, b, g):
    return g / b, -g * a / (b * b)         # ∂(a/b)/∂a = 1/b,  ∂(a/b)/∂b = -a/b²


def shared_use_backward(a, b):
    u = a * b
    du = 2 * u + 1                         # L = u·u + u: both uses of u send a gradient
    return du * b, du * a
