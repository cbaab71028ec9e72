"""Handwritten-style digits, drawn from strokes: MNIST's shapes and dtypes, made in seconds.

Each digit class has a few hand-designed variants, each a set of strokes (lines, arcs and
quadratic curves) in a unit box. One image is made by
  1. picking a variant of its class and sampling points evenly along its strokes;
  2. moving each stroke a little on its own, bending the whole with a smooth random warp
     (two low-frequency sine displacements), then a random affine map: size, aspect,
     slant (shear), rotation and position;
  3. splatting the points onto the 28x28 grid (bilinear weights, one `bincount` for a whole
     chunk of images), blurring with a Gaussian of random width (the pen's thickness), and
     saturating (1 - exp(-gain * ink)) so strokes have a solid core and soft edges;
  4. scaling to 0..255 with random contrast and ink noise, as uint8.
Everything is vectorised over chunks of images; each chunk has its own random stream
(seeded by seed, split and chunk number), so a smaller dataset is a prefix of a larger one
with the same seed, and the test split does not depend on the size of the training split.
"""
import numpy as np

SIZE = 28
_POINTS = 128          # points sampled along the strokes of each variant
_CHUNK = 1024          # images per random stream / vectorised batch
_MAX_STROKES = 4       # strokes per variant, at most
_MARGIN = 3            # canvas margin (pixels) around the 28x28 image while splatting
_SIGMAS = np.linspace(0.55, 1.05, 8)  # blur widths (pen thickness), quantised for speed


# ----------------------------------------------------------------------------------------
# Stroke primitives in the unit box (x to the right, y downwards)

def _line(*pts):
    p = np.asarray(pts, dtype=np.float64)
    segs = []
    for a, b in zip(p[:-1], p[1:]):
        t = np.linspace(0, 1, 32)[:, None]
        segs.append(a + (b - a) * t)
    return np.concatenate(segs)


def _arc(cx, cy, rx, ry, a0, a1, n=96):
    """An elliptic arc from angle a0 to a1 (degrees; 0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _quad(p0, p1, p2, n=64):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def _variants():
    """For each digit, a list of variants; each variant is a list of strokes (polylines)."""
    return {
        0: [[_arc(0.5, 0.5, 0.27, 0.43, 0, 360)],
            [_arc(0.5, 0.5, 0.22, 0.44, -80, 290)]],
        1: [[_line((0.52, 0.06), (0.5, 0.94))],
            [_line((0.33, 0.24), (0.55, 0.06), (0.52, 0.94))],
            [_line((0.35, 0.22), (0.55, 0.06), (0.53, 0.93)), _line((0.36, 0.94), (0.7, 0.94))]],
        2: [[_arc(0.5, 0.3, 0.26, 0.23, 190, 380), _quad((0.75, 0.38), (0.5, 0.65), (0.2, 0.94)),
             _line((0.2, 0.94), (0.84, 0.93))],
            [_arc(0.48, 0.3, 0.25, 0.24, 200, 390), _line((0.72, 0.4), (0.22, 0.93), (0.82, 0.9))],
            [_arc(0.5, 0.3, 0.26, 0.23, 190, 380), _quad((0.75, 0.38), (0.45, 0.7), (0.22, 0.9)),
             _arc(0.28, 0.86, 0.07, 0.07, 270, 90 + 360), _line((0.28, 0.93), (0.85, 0.93))]],
        3: [[_arc(0.48, 0.28, 0.25, 0.22, 200, 450), _arc(0.48, 0.72, 0.28, 0.23, 270, 520)],
            [_line((0.22, 0.06), (0.75, 0.06), (0.45, 0.42)),
             _arc(0.48, 0.68, 0.28, 0.26, 270, 510)]],
        4: [[_line((0.68, 0.94), (0.66, 0.06), (0.14, 0.66), (0.86, 0.66))],
            [_line((0.3, 0.06), (0.22, 0.6), (0.84, 0.6)), _line((0.7, 0.2), (0.68, 0.95))]],
        5: [[_line((0.78, 0.06), (0.3, 0.06), (0.26, 0.44)),
             _arc(0.5, 0.67, 0.28, 0.26, 220, 505)],
            [_line((0.8, 0.07), (0.32, 0.07)), _line((0.32, 0.07), (0.28, 0.46)),
             _quad((0.28, 0.46), (0.95, 0.4), (0.7, 0.85)), _quad((0.7, 0.85), (0.5, 1.0),
                                                                  (0.2, 0.86))]],
        6: [[_quad((0.74, 0.06), (0.22, 0.3), (0.24, 0.7)), _arc(0.5, 0.7, 0.26, 0.24, 180, 540)],
            [_line((0.68, 0.06), (0.28, 0.62)), _arc(0.5, 0.72, 0.24, 0.22, 200, 560)]],
        7: [[_line((0.16, 0.07), (0.84, 0.07), (0.4, 0.94))],
            [_line((0.16, 0.1), (0.84, 0.07), (0.44, 0.94)), _line((0.36, 0.5), (0.76, 0.48))],
            [_line((0.16, 0.2), (0.18, 0.07), (0.84, 0.07)), _quad((0.84, 0.07), (0.5, 0.45),
                                                                   (0.45, 0.94))]],
        8: [[_arc(0.5, 0.27, 0.21, 0.21, 0, 360), _arc(0.5, 0.71, 0.26, 0.23, 0, 360)],
            [_quad((0.7, 0.12), (0.5, -0.04), (0.3, 0.14)), _quad((0.3, 0.14), (0.25, 0.36),
                                                                  (0.72, 0.62)),
             _arc(0.5, 0.73, 0.25, 0.21, -30, 210), _quad((0.28, 0.62), (0.72, 0.36),
                                                          (0.7, 0.12))]],
        9: [[_arc(0.5, 0.3, 0.24, 0.23, 0, 360), _line((0.74, 0.3), (0.64, 0.94))],
            [_arc(0.5, 0.3, 0.24, 0.22, 0, 360), _quad((0.74, 0.3), (0.78, 0.8), (0.4, 0.94))]],
    }


def _resample(strokes, n):
    """`n` points spread evenly (by length) over the strokes; also the ink per point."""
    lengths = [np.sum(np.linalg.norm(np.diff(s, axis=0), axis=1)) for s in strokes]
    total = float(sum(lengths))
    counts = np.maximum(2, np.round(np.array(lengths) / total * n).astype(int))
    counts[np.argmax(counts)] += n - counts.sum()
    pts, ids = [], []
    for j, (s, k) in enumerate(zip(strokes, counts)):
        seg = np.linalg.norm(np.diff(s, axis=0), axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        t = np.linspace(0, cum[-1], k)
        pts.append(np.stack([np.interp(t, cum, s[:, 0]), np.interp(t, cum, s[:, 1])], axis=1))
        ids.append(np.full(k, j))
    return np.concatenate(pts), total / n, np.concatenate(ids)


_TEMPLATES = None


def _templates():
    """(points [V, P, 2], ink per point [V], class of each variant [V], stroke of each
    point [V, P])."""
    global _TEMPLATES
    if _TEMPLATES is None:
        pts, ink, cls, sid = [], [], [], []
        for digit, variants in _variants().items():
            for strokes in variants:
                p, w, ids = _resample(strokes, _POINTS)
                pts.append(p - 0.5)  # centred on the box's middle
                ink.append(w)
                cls.append(digit)
                sid.append(ids)
        _TEMPLATES = (np.stack(pts).astype(np.float32), np.array(ink), np.array(cls),
                      np.stack(sid))
    return _TEMPLATES


_RADIUS = 3


def _gaussian_taps(sigma):
    k = np.exp(-0.5 * (np.arange(-_RADIUS, _RADIUS + 1) / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


_BLURS = [_gaussian_taps(s) for s in _SIGMAS]


def _blur(img, taps):
    """Separable Gaussian blur of a stack [k, 28, 28] (shifted sums: no BLAS threads)."""
    r = _RADIUS
    p = np.pad(img, ((0, 0), (0, 0), (r, r)))
    out = taps[0] * p[:, :, :SIZE]
    for i in range(1, 2 * r + 1):
        out += taps[i] * p[:, :, i:i + SIZE]
    p = np.pad(out, ((0, 0), (r, r), (0, 0)))
    out = taps[0] * p[:, :SIZE]
    for i in range(1, 2 * r + 1):
        out += taps[i] * p[:, i:i + SIZE]
    return out


def _render(labels, rng):
    """uint8 images [n, 28, 28] of the digits `labels`, drawn with random stream `rng`."""
    pts, ink, cls, sid = _templates()
    n = len(labels)
    # 1. a variant of each image's class
    choice = np.empty(n, dtype=np.int64)
    for d in range(10):
        where = np.flatnonzero(labels == d)
        options = np.flatnonzero(cls == d)
        choice[where] = options[rng.integers(0, len(options), size=len(where))]
    px = pts[choice, :, 0]                            # [n, P], centred unit box
    py = pts[choice, :, 1]
    w = ink[choice]
    f32 = np.float32
    #    each stroke shifted a little on its own (a 4's bar, a 7's stem: hands vary)
    shift = rng.normal(0.0, 0.03, (2, n, _MAX_STROKES)).astype(f32)
    rows = np.arange(n)[:, None]
    px = px + shift[0][rows, sid[choice]]
    py = py + shift[1][rows, sid[choice]]
    # 2. smooth warp: two sine displacements of random direction, frequency and phase
    for _ in range(2):
        ang = rng.uniform(0, 2 * np.pi, n).astype(f32)
        freq = (rng.uniform(1.0, 2.5, n) * np.pi).astype(f32)[:, None]
        phase = rng.uniform(0, 2 * np.pi, n).astype(f32)[:, None]
        amp = rng.uniform(0.0, 0.07, (2, n)).astype(f32)[:, :, None]
        wave = np.sin(freq * (px * np.cos(ang)[:, None] + py * np.sin(ang)[:, None]) + phase)
        px = px + amp[0] * wave
        py = py + amp[1] * wave
    #    then an affine map: size, aspect, slant, rotation, position
    scale = rng.uniform(17.0, 21.5, n)
    aspect = rng.uniform(0.8, 1.2, n)
    slant = rng.normal(0.0, 0.18, n)
    rot = np.radians(rng.normal(0.0, 9.0, n))
    sx, sy = scale * aspect, scale
    c, s = np.cos(rot), np.sin(rot)
    # x' = c (sx px + slant sy py) - s (sy py),  y' = s (sx px + slant sy py) + c (sy py)
    axx, axy = (c * sx).astype(f32)[:, None], ((c * slant - s) * sy).astype(f32)[:, None]
    ayx, ayy = (s * sx).astype(f32)[:, None], ((s * slant + c) * sy).astype(f32)[:, None]
    cx = ((SIZE - 1) / 2 + rng.uniform(-1.5, 1.5, n)).astype(f32)[:, None]
    cy = ((SIZE - 1) / 2 + rng.uniform(-1.5, 1.5, n)).astype(f32)[:, None]
    x = axx * px + axy * py + cx
    y = ayx * px + ayy * py + cy
    # 3. bilinear splat of all points of the chunk with one bincount, on a canvas with a
    #    margin (points beyond it are clamped onto it), then cropped to 28x28
    m = _MARGIN
    side = SIZE + 2 * m
    x = np.clip(x + m, 0, side - 1.001).astype(np.float32)
    y = np.clip(y + m, 0, side - 1.001).astype(np.float32)
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    fx, fy = x - x0, y - y0
    i00 = (np.arange(n, dtype=np.int32) * (side * side))[:, None] + y0 * side + x0
    index = np.stack([i00, i00 + 1, i00 + side, i00 + side + 1])
    wq = w.astype(np.float32)[:, None]
    gx, gy = 1 - fx, 1 - fy
    weight = np.stack([gx * gy * wq, fx * gy * wq, gx * fy * wq, fx * fy * wq])
    ink_map = np.bincount(index.ravel(), weight.ravel(), minlength=n * side * side)
    img = ink_map.reshape(n, side, side)[:, m:m + SIZE, m:m + SIZE].astype(np.float32)
    img *= np.float32(SIZE - 8)
    #    blur (pen thickness) and saturate
    level = rng.integers(0, len(_BLURS), n)
    for k, g in enumerate(_BLURS):
        sel = np.flatnonzero(level == k)
        if len(sel):
            img[sel] = _blur(img[sel], g)
    gain = rng.uniform(3.0, 6.5, n).astype(np.float32)[:, None, None]
    img = 1.0 - np.exp(-gain * img)
    # 4. contrast and ink noise, to uint8
    contrast = rng.uniform(0.8, 1.0, n).astype(np.float32)[:, None, None]
    noise = (rng.random(img.shape, dtype=np.float32) - np.float32(0.5)) * np.float32(0.2)
    img = img * contrast + noise * img
    img[img < 0.04] = 0.0
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def generate_digits(num, seed=0, split=0):
    """`num` images (uint8 [num, 28, 28]) and labels (uint8 [num]) for `seed` and `split`."""
    num = int(num)
    if num < 0:
        raise ValueError(f"generate_digits: num must be >= 0, got {num}")
    images = np.empty((num, SIZE, SIZE), dtype=np.uint8)
    labels = np.empty((num,), dtype=np.uint8)
    for start in range(0, num, _CHUNK):
        k = min(_CHUNK, num - start)
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(split), start // _CHUNK])
        lab = rng.integers(0, 10, size=_CHUNK)
        images[start:start + k] = _render(lab, rng)[:k]  # a whole chunk: same random draws
        labels[start:start + k] = lab[:k]
    return images, labels
