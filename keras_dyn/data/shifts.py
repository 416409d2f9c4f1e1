"""Controlled, seeded input shifts for robustness probes (in the spirit of MNIST-C, Mu & Gilmer 2019).

:func:`apply_shift` turns a batch of images ``(N, H, W)`` into a shifted copy. Every kind has
severities ``1..5`` of increasing strength (``SEVERITY_LEVELS``); the probes use 1..3 by
default. Results are deterministic given ``seed``, and the random draws (rotation signs,
translation directions, the noise field, occluder positions) are shared across severities of the
same kind, so severity 3 is "the same change as severity 1, only stronger".

Values stay in ``value_range``; anything that enters from outside the image (rotation corners,
translation, occluders) is filled with the background, the low end of the range.

==================  =====================================================  =====================
kind                what happens                                          severities 1..5
==================  =====================================================  =====================
``rotation``        rotate about the centre, random sign per image         10, 20, 30, 45, 60°
``translation``     integer shift in a random direction per image          2, 3, 4, 5, 6 px
``gaussian_noise``  add N(0, σ) noise (σ as a share of the range), clip     .1, .2, .3, .45, .6
``blur``            Gaussian blur                                         σ = .6, 1, 1.5, 2, 2.5
``contrast``        pull pixels toward the image mean: keep this share    .5, .3, .2, .12, .06
``occlusion``       a background-coloured square near the centre           6, 9, 12, 15, 18 px 
==================  =====================================================  =====================

Example::

    from keras_dyn.data.shifts import SHIFTS, apply_shift
    x_rot = apply_shift(data.x_test, "rotation", severity=2, seed=0, value_range=data.value_range)
"""

from __future__ import annotations

import numpy as np

from keras_dyn.errors import DataError

SHIFTS = ("rotation", "translation", "gaussian_noise", "blur", "contrast", "occlusion")

# kind -> strength at severities 1..5 (units in the table of the module docstring)
SEVERITY_LEVELS = {
    "rotation": (10.0, 20.0, 30.0, 45.0, 60.0),
    "translation": (2, 3, 4, 5, 6),
    "gaussian_noise": (0.1, 0.2, 0.3, 0.45, 0.6),
    "blur": (0.6, 1.0, 1.5, 2.0, 2.5),
    "contrast": (0.5, 0.3, 0.2, 0.12, 0.06),
    "occlusion": (6, 9, 12, 15, 18),
}
MAX_SEVERITY = 5

# a fixed per-kind offset so two kinds with the same seed do not share random draws
_KIND_SALT = {kind: i + 1 for i, kind in enumerate(SHIFTS)}


def apply_shift(x, kind, severity, seed=0, value_range=(0.0, 1.0)):
    """Return a shifted copy of a batch of images.

    Args:
        x: images, shape ``(N, H, W)`` (a single ``(H, W)`` image is accepted too).
        kind: one of :data:`SHIFTS`.
        severity: 1..5, larger is stronger (0 returns an unchanged copy).
        seed: seed of the random parts (same seed, same output).
        value_range: ``(low, high)`` of the pixel values; the output is clipped to it and the
            background is ``low``.

    Returns:
        float32 array of the same shape as ``x``.

    Raises:
        DataError: unknown kind, severity out of range, or not an image batch.
    """
    if kind not in SHIFTS:
        raise DataError(f"unknown shift {kind!r}; allowed: {', '.join(SHIFTS)}")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) \
            or not 0 <= severity <= MAX_SEVERITY:
        raise DataError(f"shift severity must be a whole number from 0 to {MAX_SEVERITY}, got {severity!r}")
    x = np.asarray(x, dtype=np.float32)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise DataError(f"shifts need images of shape (N, H, W), got {x.shape}")
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise DataError(f"value_range must be (low, high) with high > low, got {value_range}")
    if severity == 0 or x.shape[0] == 0:
        out = x.copy()
    else:
        u = (x - low) / (high - low)  # work in [0, 1] with background 0
        rng = np.random.default_rng([int(seed), _KIND_SALT[kind]])
        level = SEVERITY_LEVELS[kind][severity - 1]
        u = _TRANSFORMS[kind](u, level, rng)
        out = np.clip(u, 0.0, 1.0) * (high - low) + low
    out = out.astype(np.float32)
    return out[0] if single else out


# ---- the transformations, on images in [0, 1] with background 0


def _rotation(u, degrees, rng):
    from scipy import ndimage

    signs = rng.choice([-1.0, 1.0], size=u.shape[0])
    out = np.empty_like(u)
    for i in range(u.shape[0]):
        out[i] = ndimage.rotate(u[i], signs[i] * degrees, reshape=False, order=1,
                                mode="constant", cval=0.0)
    return out


def _translation(u, pixels, rng):
    angles = rng.uniform(0.0, 2.0 * np.pi, size=u.shape[0])
    dy = np.rint(pixels * np.sin(angles)).astype(int)
    dx = np.rint(pixels * np.cos(angles)).astype(int)
    n, h, w = u.shape
    out = np.zeros_like(u)
    for i in range(n):
        ys, xs = dy[i], dx[i]
        src = u[i, max(0, -ys):h - max(0, ys), max(0, -xs):w - max(0, xs)]
        out[i, max(0, ys):max(0, ys) + src.shape[0], max(0, xs):max(0, xs) + src.shape[1]] = src
    return out


def _gaussian_noise(u, sigma, rng):
    return u + sigma * rng.standard_normal(u.shape).astype(np.float32)


def _blur(u, sigma, rng):
    from scipy import ndimage

    return ndimage.gaussian_filter(u, sigma=(0.0, sigma, sigma), mode="constant", cval=0.0)


def _contrast(u, keep, rng):
    means = u.mean(axis=(1, 2), keepdims=True)
    return means + keep * (u - means)


def _occlusion(u, size, rng):
    n, h, w = u.shape
    # the occluder's centre lies in the middle half of the image, where the strokes are
    cy = rng.integers(h // 4, h - h // 4, size=n)
    cx = rng.integers(w // 4, w - w // 4, size=n)
    out = u.copy()
    half = size // 2
    for i in range(n):
        top, left = max(0, cy[i] - half), max(0, cx[i] - half)
        out[i, top:top + size, left:left + size] = 0.0
    return out


_TRANSFORMS = {
    "rotation": _rotation,
    "translation": _translation,
    "gaussian_noise": _gaussian_noise,
    "blur": _blur,
    "contrast": _contrast,
    "occlusion": _occlusion,
}
