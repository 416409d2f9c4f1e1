"""A small multilayer perceptron written from scratch in NumPy: forward pass, backward pass.

For teaching and as an independent reference: for the same weights and batch its gradients match
TensorFlow's ``GradientTape`` on a keras_dyn model (``tests/test_numpy_mlp.py`` checks that to
1e-5 relative, in float64). Everything is explicit; no autodiff.

The network: ``x -> [dense -> activation] * n_hidden -> dense -> softmax``, loss = mean over the
batch of the cross-entropy ``-log p[y]``. Dense layers compute ``a @ W + b`` with ``W`` of shape
``[fan_in, fan_out]`` (Keras's layout, so weights copy straight across).

Example:
    >>> import numpy as np
    >>> from keras_dyn.numpy_mlp import NumpyMLP
    >>> net = NumpyMLP.init([4, 8, 3], activation="relu", seed=0)
    >>> x = np.random.default_rng(1).normal(size=(5, 4)); y = np.array([0, 1, 2, 1, 0])
    >>> loss, grads = net.loss_and_gradients(x, y)     # grads[i] = (dW_i, db_i)
    >>> net.sgd_step(grads, learning_rate=0.1)
"""

from __future__ import annotations

import numpy as np

# activation -> (f(z), f'(z) expressed with z and a = f(z))
ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so ``exp`` cannot overflow."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NumpyMLP:
    """A dense network with one activation per hidden layer and a softmax output.

    Args:
        weights: list of ``(W, b)`` per layer, hidden layers first, output layer last.
        activations: one name per hidden layer (``relu``, ``tanh``, ``sigmoid``, ``linear``);
            a single string applies to all.
        dtype: NumPy dtype for all arithmetic (float64 by default).
    """

    def __init__(self, weights, activations="relu", dtype=np.float64):
        self.dtype = dtype
        self.weights = [(np.array(W, dtype), np.array(b, dtype)) for W, b in weights]
        n_hidden = len(self.weights) - 1
        if isinstance(activations, str):
            activations = [activations] * n_hidden
        if len(activations) != n_hidden:
            raise ValueError(f"{n_hidden} hidden layers but {len(activations)} activations")
        for name in activations:
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
        self.activations = list(activations)

    @classmethod
    def init(cls, sizes, activation="relu", seed=0, dtype=np.float64):
        """He-normal kernels and zero biases for layer sizes ``[inputs, hidden..., classes]``."""
        rng = np.random.default_rng(seed)
        weights = [(rng.normal(0.0, np.sqrt(2.0 / m), size=(m, n)), np.zeros(n))
                   for m, n in zip(sizes[:-1], sizes[1:])]
        return cls(weights, activation, dtype)

    @classmethod
    def from_keras(cls, model, dtype=np.float64):
        """Copy the Dense layers (kernel, bias, activation) of a keras_dyn-style MLP."""
        dense = [l for l in model.layers if hasattr(l, "kernel") and hasattr(l, "activation")]
        weights = [(l.kernel.numpy(), l.bias.numpy()) for l in dense]
        acts = [l.activation.__name__ for l in dense[:-1]]
        if dense[-1].activation.__name__ != "softmax":
            raise ValueError("the last Dense layer must have a softmax activation")
        return cls(weights, acts, dtype)

    # ------------------------------------------------------------------ passes

    def forward(self, x):
        """Class probabilities and the cache the backward pass needs."""
        a = np.asarray(x, self.dtype).reshape(len(x), -1)
        cache = []  # (input to the layer, pre-activation z, output a)
        for (W, b), name in zip(self.weights[:-1], self.activations):
            z = a @ W + b
            out = ACTIVATIONS[name][0](z)
            cache.append((a, z, out))
            a = out
        W, b = self.weights[-1]
        logits = a @ W + b
        cache.append((a, logits, None))
        return softmax(logits), cache

    def loss(self, x, y) -> float:
        probs, _ = self.forward(x)
        return float(-np.mean(np.log(probs[np.arange(len(probs)), np.asarray(y)])))

    def loss_and_gradients(self, x, y):
        """Mean cross-entropy and ``[(dL/dW, dL/db) per layer]`` by explicit backpropagation."""
        y = np.asarray(y)
        probs, cache = self.forward(x)
        n = len(y)
        loss = float(-np.mean(np.log(probs[np.arange(n), y])))
        delta = probs.copy()  # dL/dlogits for softmax + cross-entropy, averaged over the batch
        delta[np.arange(n), y] -= 1.0
        delta /= n
        grads = [None] * len(self.weights)
        for i in range(len(self.weights) - 1, -1, -1):
            a_in, _, _ = cache[i]
            W, _ = self.weights[i]
            grads[i] = (a_in.T @ delta, delta.sum(axis=0))
            if i > 0:
                _, z, a = cache[i - 1]
                delta = (delta @ W.T) * ACTIVATIONS[self.activations[i - 1]][1](z, a)
        return loss, grads

    def sgd_step(self, grads, learning_rate=0.01):
        """Plain gradient descent: ``w -= learning_rate * g``."""
        self.weights = [(W - learning_rate * dW, b - learning_rate * db)
                        for (W, b), (dW, db) in zip(self.weights, grads)]


def gradient_norms(grads) -> list[float]:
    """L2 norm of each array in ``[(dW, db), ...]``, flattened in the same order: W1, b1, W2, ..."""
    return [float(np.linalg.norm(g)) for pair in grads for g in pair]
