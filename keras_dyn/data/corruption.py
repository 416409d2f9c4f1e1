"""Input corruptions for the random-label control (Zhang et al. 2017, table 1).

:func:`corrupt_inputs` permutes the pixels of images, so the set of pixel values of every image
is kept and only where they are changes:

- ``"none"``: the images unchanged.
- ``"shuffled_pixels"``: ONE permutation of the pixel positions, drawn from ``seed``, applied to
  every image of every split (training, validation and test share it). The digits become
  unreadable to a person, but every image keeps the same pixel in the same new place, so a
  model without a spatial prior (an MLP, which starts by flattening) sees a relabelled input
  space and can learn it as well as the clean one.
- ``"random_pixels"``: a DIFFERENT permutation for each image (drawn from ``seed`` and the
  split's ``stream``, so the splits get independent draws). Nothing about a pixel's position
  survives; only the multiset of intensities (how much ink an image has) is left.

``keras_dyn.data.load_dataset`` applies it after normalisation, with ``data.input_corruption``
and ``data.input_corruption_seed``.

Example::

    x_shuffled = corrupt_inputs(x_train, "shuffled_pixels", seed=0)
    assert np.array_equal(np.sort(x_shuffled.reshape(len(x_train), -1)),
                          np.sort(x_train.reshape(len(x_train), -1)))
"""

from __future__ import annotations

import numpy as np

from keras_dyn.config import INPUT_CORRUPTIONS
from keras_dyn.errors import DataError

# offset mixed into the seed so the fixed permutation and the per-image ones are separate streams
_FIXED_STREAM = 0


def pixel_permutation(n_pixels: int, seed: int) -> np.ndarray:
    """The fixed permutation ``"shuffled_pixels"`` applies: a seeded order of ``n_pixels``."""
    return np.random.default_rng([seed, _FIXED_STREAM]).permutation(n_pixels)


def corrupt_inputs(x, kind: str, seed: int = 0, stream: int = 1) -> np.ndarray:
    """Permute the pixels of images ``x`` (shape ``(N, ...)``); the shape and dtype are kept.

    Args:
        x: images, ``(N, H, W)`` or ``(N, D)``; every entry after the first axis is a pixel.
        kind: ``"none"``, ``"shuffled_pixels"`` (one permutation for all) or ``"random_pixels"``
            (one permutation per image).
        seed: seed of the permutation(s).
        stream: for ``"random_pixels"``, which split this is (give each split its own, so the
            training and test images do not share permutations); ignored otherwise.

    Returns:
        a new array (``x`` itself for ``"none"``).

    Raises:
        DataError: an unknown kind.
    """
    if kind not in INPUT_CORRUPTIONS:
        raise DataError(f"unknown input corruption {kind!r}; allowed: {', '.join(INPUT_CORRUPTIONS)}")
    x = np.asarray(x)
    if kind == "none" or x.shape[0] == 0:
        return x
    flat = x.reshape(x.shape[0], -1)
    if kind == "shuffled_pixels":
        out = flat[:, pixel_permutation(flat.shape[1], seed)]
    else:
        rng = np.random.default_rng([seed, 1 + int(stream)])
        order = rng.permuted(np.broadcast_to(np.arange(flat.shape[1]), flat.shape), axis=1)
        out = np.take_along_axis(flat, order, axis=1)
    return np.ascontiguousarray(out.reshape(x.shape))
