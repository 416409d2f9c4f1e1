"""A small multilayer perceptron written from scratch in NumPy: forward pass, backward pass, and
the two optimisers keras_dyn's labs use (plain SGD and Adam), each written out as Keras 3 computes
it.

For teaching and as an independent reference: for the same weights and batch its gradients match
TensorFlow's ``GradientTape`` on a keras_dyn model (``tests/test_numpy_mlp.py`` checks that to
1e-5 relative, in float64), and trained from the same weights on the same batches it follows a
Keras run step for step (:class:`keras_dyn.callbacks.numpy_twin.NumpyTwin` measures how closely).
Everything is explicit; no autodiff.

The network: ``x -> [dense -> activation] * n_hidden -> dense -> output`` where the output is

- ``"softmax"``: class probabilities; loss = mean over the batch of ``-log p[y]``;
- ``"sigmoid"``: one unit, ``p = sigmoid(z)`` = P(class 1); loss = binary cross-entropy, mean
  over the batch of ``-(y log p + (1 - y) log(1 - p))``. It is computed from the logit ``z`` as
  ``max(z, 0) - z y + log(1 + exp(-|z|))`` (the same value, but it never takes the log of a
  rounded 0 or 1; Keras does the same for a sigmoid layer's output).

Dense layers compute ``a @ W + b`` with ``W`` of shape ``[fan_in, fan_out]`` (Keras's layout, so
weights copy straight across). ``dtype`` sets the arithmetic: float64 (default) for checking
gradients and for following a float64 Keras model (``model.dtype = "float64"``), float32 to
follow a float32 one with rounding of the same size.

Example:
    >>> import numpy as np
    >>> from keras_dyn.numpy_mlp import NumpyMLP, Adam
    >>> net = NumpyMLP.init([2, 8, 1], activation="relu", output="sigmoid", seed=0)
    >>> x = np.random.default_rng(1).normal(size=(5, 2)); y = np.array([0, 1, 1, 0, 1])
    >>> loss, grads = net.loss_and_gradients(x, y)     # grads[i] = (dW_i, db_i)
    >>> opt = Adam(learning_rate=1e-3)
    >>> opt.step(net, grads)                            # one Keras-style Adam update
"""

from __future__ import annotations

import numpy as np

# activation -> (f(z), f'(z) expressed with z and a = f(z))
ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}
OUTPUTS = ("softmax", "sigmoid")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so ``exp`` cannot overflow."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` without overflow for large negative ``z``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def binary_cross_entropy_from_logits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-example BCE of logits ``z`` against 0/1 labels ``y``: ``max(z,0) - z y + log1p(exp(-|z|))``."""
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


class NumpyMLP:
    """A dense network with one activation per hidden layer and a softmax or sigmoid output.

    Args:
        weights: list of ``(W, b)`` per layer, hidden layers first, output layer last.
        activations: one name per hidden layer (``relu``, ``tanh``, ``sigmoid``, ``linear``);
            a single string applies to all.
        dtype: NumPy dtype for all arithmetic (float64 by default).
        output: ``"softmax"`` (one unit per class) or ``"sigmoid"`` (one unit, two classes).
    """

    def __init__(self, weights, activations="relu", dtype=np.float64, output="softmax"):
        self.dtype = np.dtype(dtype)
        self.weights = [(np.array(W, self.dtype), np.array(b, self.dtype)) for W, b in weights]
        n_hidden = len(self.weights) - 1
        if isinstance(activations, str):
            activations = [activations] * n_hidden
        if len(activations) != n_hidden:
            raise ValueError(f"{n_hidden} hidden layers but {len(activations)} activations")
        for name in activations:
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; allowed: {', '.join(OUTPUTS)}")
        if output == "sigmoid" and self.weights[-1][0].shape[1] != 1:
            raise ValueError(f"a sigmoid output has one unit, not {self.weights[-1][0].shape[1]}")
        self.activations = list(activations)
        self.output = output

    @classmethod
    def init(cls, sizes, activation="relu", seed=0, dtype=np.float64, output="softmax"):
        """He-normal kernels and zero biases for layer sizes ``[inputs, hidden..., outputs]``."""
        rng = np.random.default_rng(seed)
        weights = [(rng.normal(0.0, np.sqrt(2.0 / m), size=(m, n)), np.zeros(n))
                   for m, n in zip(sizes[:-1], sizes[1:])]
        return cls(weights, activation, dtype, output)

    @classmethod
    def from_keras(cls, model, dtype=np.float64):
        """Copy the Dense layers (kernel, bias, activation) of a keras_dyn-style MLP; the last
        Dense layer must end in a softmax or a (one-unit) sigmoid."""
        dense = [l for l in model.layers if hasattr(l, "kernel") and hasattr(l, "activation")]
        weights = [(l.kernel.numpy(), l.bias.numpy()) for l in dense]
        acts = [l.activation.__name__ for l in dense[:-1]]
        output = dense[-1].activation.__name__
        if output not in OUTPUTS:
            raise ValueError(f"the last Dense layer must have a softmax or sigmoid activation, not {output!r}")
        return cls(weights, acts, dtype, output)

    # ------------------------------------------------------------------ passes

    def forward(self, x):
        """Class probabilities (softmax) or P(class 1) as ``[N, 1]`` (sigmoid), and the cache the
        backward pass needs."""
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
        return (sigmoid(logits) if self.output == "sigmoid" else softmax(logits)), cache

    def predict(self, x) -> np.ndarray:
        """What the Keras model outputs for ``x``: probabilities, ``[N, 1]`` for a sigmoid."""
        return self.forward(x)[0]

    def _loss_from(self, probs, logits, y) -> float:
        if self.output == "sigmoid":
            return float(np.mean(binary_cross_entropy_from_logits(logits[:, 0], y.astype(self.dtype))))
        return float(-np.mean(np.log(probs[np.arange(len(probs)), y])))

    def loss(self, x, y) -> float:
        y = np.asarray(y)
        probs, cache = self.forward(x)
        return self._loss_from(probs, cache[-1][1], y)

    def loss_and_gradients(self, x, y):
        """Mean loss and ``[(dL/dW, dL/db) per layer]`` by explicit backpropagation."""
        y = np.asarray(y)
        probs, cache = self.forward(x)
        n = len(y)
        loss = self._loss_from(probs, cache[-1][1], y)
        if self.output == "sigmoid":  # dL/dz of the BCE of sigmoid(z): p - y, averaged
            delta = (probs - y.astype(self.dtype)[:, None]) / self.dtype.type(n)
        else:  # dL/dlogits for softmax + cross-entropy, averaged over the batch
            delta = probs.copy()
            delta[np.arange(n), y] -= 1
            delta /= self.dtype.type(n)
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
        SGD(learning_rate).step(self, grads)


def keras_constant(value: float) -> float:
    """``value`` as Keras 3 hands it to an optimiser's update, rounded to float32.

    The learning rate lives in a float32 variable, and ``ops.cast(beta, variable.dtype)`` of a
    Python float makes a float32 tensor before it casts, so a float64 model still sees
    ``0.9990000128746033`` for ``beta_2 = 0.999``. The constants Keras uses as Python floats
    (``1 - beta_1``, ``epsilon``) keep full precision. In float32 this changes nothing.
    """
    return float(np.float32(value))


class SGD:
    """Plain stochastic gradient descent, as ``keras.optimizers.SGD(momentum=0)``:
    ``w -= learning_rate * g`` for every weight array."""

    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate

    def step(self, net: NumpyMLP, grads) -> None:
        lr = net.dtype.type(keras_constant(self.learning_rate))
        net.weights = [(W - dW * lr, b - db * lr) for (W, b), (dW, db) in zip(net.weights, grads)]


class Adam:
    """Adam as ``keras.optimizers.Adam`` (Keras 3) computes it, for every weight array ``w``
    with gradient ``g``, at update ``t = 1, 2, ...``::

        alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m += (g - m) * (1 - beta_1)
        v += (g**2 - v) * (1 - beta_2)
        w -= m * alpha / (sqrt(v) + epsilon)

    (Keras's defaults: ``beta_1 = 0.9``, ``beta_2 = 0.999``, ``epsilon = 1e-7``; note that
    epsilon is added to ``sqrt(v)`` after the bias correction moved into ``alpha``.) The
    learning rate and the two ``beta**t`` bases pass through float32 first, as they do in Keras
    (see :func:`keras_constant`); ``1 - beta`` and ``epsilon`` do not.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.t = 0
        self.m = self.v = None

    def step(self, net: NumpyMLP, grads) -> None:
        f = net.dtype.type
        flat_g = [g for pair in grads for g in pair]
        if self.m is None:
            self.m = [np.zeros_like(g) for g in flat_g]
            self.v = [np.zeros_like(g) for g in flat_g]
        self.t += 1
        t = f(self.t)
        b1, b2 = f(keras_constant(self.beta_1)), f(keras_constant(self.beta_2))
        alpha = f(keras_constant(self.learning_rate)) * np.sqrt(f(1) - b2 ** t) / (f(1) - b1 ** t)
        flat_w = [w for pair in net.weights for w in pair]
        new = []
        for w, g, m, v in zip(flat_w, flat_g, self.m, self.v):
            m += (g - m) * f(1 - self.beta_1)
            v += (g * g - v) * f(1 - self.beta_2)
            new.append(w - (m * alpha) / (np.sqrt(v) + f(self.epsilon)))
        net.weights = [(new[i], new[i + 1]) for i in range(0, len(new), 2)]


def gradient_norms(grads) -> list[float]:
    """L2 norm of each array in ``[(dW, db), ...]``, flattened in the same order: W1, b1, W2, ..."""
    return [float(np.linalg.norm(g)) for pair in grads for g in pair]
