"""Where do two groups' average beats differ? Pointwise tests, FDR control, and wave delineation.

Input: the average beats (N, 12, L) of two groups of records (e.g. high- vs low-risk for one vessel),
as made by :func:`ecglib.signals.beats.average_beats` (z-scored per lead, referenced to the PR segment; NaN
rows, i.e. excluded records, are dropped here). Output: a :class:`WaveformComparison` holding

- per group and lead the mean and SD curves (the study's 12-lead figure) and the difference of the
  means (group A - group B) with its Welch 95% confidence band;
- a test at every sample of every lead: Welch's unequal-variance t-test
  (``scipy.stats.ttest_ind(equal_var=False)``, default) or the Mann-Whitney U test
  (``scipy.stats.mannwhitneyu``, two-sided, asymptotic);
- Benjamini-Hochberg false-discovery-rate adjustment (``scipy.stats.false_discovery_control``)
  over *all* 12 x L tests at once (one family: "where in the beat, in which lead"). Neighbouring
  samples are positively correlated, the setting in which BH controls the FDR (positive regression
  dependence, Benjamini & Yekutieli 2001); ``fdr="by"`` gives the Benjamini-Yekutieli procedure,
  valid under any dependence and more conservative. A sample whose test is undefined (zero
  variance in both groups, e.g. exactly at a reference point) gets p = 1;
- the delineation of the grand average beat into waves (:func:`delineate_beat`), so that every
  significant stretch (a contiguous run of significant samples in one lead) is named by the wave
  it falls in, and tidy tables: per lead and wave (:meth:`WaveformComparison.wave_table`), the
  stretches (:meth:`~WaveformComparison.stretches`), and leads ranked by effect in the ST-T window
  (:meth:`~WaveformComparison.lead_ranking`).

Delineation rule (:func:`delineate_beat`)
-----------------------------------------
On the grand average beat (the mean of all records of both groups, so both groups share one set of
boundaries), using the 8 independent leads (I, II, V1-V6), referenced to the isoelectric PR segment
(:func:`ecglib.signals.beats.isoelectric_segment`):

- *spatial velocity* SV(t) = sqrt(sum over leads of (dx/dt)^2), *vector magnitude*
  VM(t) = sqrt(sum over leads of x^2), each smoothed over 10 ms;
- **QRS onset / J point**: from the largest SV within 60 ms before (after) the R peak, the first
  sample going backwards (forwards) where SV drops below 10% of that QRS maximum;
- **T peak**: largest VM from 80 ms after the J point to 500 ms after the R peak;
- **T end**: tangent method (the standard for QT measurement): the tangent to VM at its steepest
  descent after the T peak, intersected with the isoelectric level (VM = 0);
- **T onset**: the tangent to VM at its steepest ascent between the J point and the T peak,
  intersected with the lowest VM between them (the ST level), never before the J point;
- **P peak / P end**: largest VM from the window start to 20 ms before QRS onset; the tangent at its
  steepest descent after the P peak, intersected with the isoelectric level (no P end if the P
  peak is smaller than 2% of the QRS VM, e.g. a group in atrial fibrillation).

Regions (:data:`WAVES`, each a half-open interval of beat samples, together the whole window):
"P wave" (window start, 0.25 s before R, to P end: the window starts shortly before P onset),
"PR segment" (P end to QRS onset), "QRS" (QRS onset to J point), "ST segment" (J point to T onset),
"T wave" (T onset to T end), "after T" (T end to window end: diastole, and at high heart rates the
next P wave).

The delineation and the pointwise tests stay in one module because they are one algorithm: the
comparison names every significant stretch by the wave the delineation puts it in.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ecglib.schema import FS, LEADS
from ecglib.signals.beats import beat_window, isoelectric_segment

#: Regions of the beat, in time order.
WAVES: tuple[str, ...] = ("P wave", "PR segment", "QRS", "ST segment", "T wave", "after T")
#: Regions that make up the ST-T window of :meth:`WaveformComparison.lead_ranking`.
ST_T: tuple[str, ...] = ("ST segment", "T wave")
#: Pointwise tests and FDR procedures known to :func:`compare_waveforms`.
TESTS: tuple[str, ...] = ("welch", "mannwhitney")
FDR_METHODS: tuple[str, ...] = ("bh", "by")
#: Columns of :meth:`WaveformComparison.stretches`.
STRETCH_COLUMNS: tuple[str, ...] = (
    "lead",
    "start_s",
    "end_s",
    "duration_ms",
    "n_samples",
    "wave",
    "waves",
    "mean_diff",
    "peak_diff",
    "min_q",
)

#: Delineation constants (seconds, or fractions of the QRS maximum).
SMOOTH_S = 0.01
QRS_SEARCH_S = 0.06
QRS_SV_FRACTION = 0.10
T_SEARCH_AFTER_J_S = 0.08
T_SEARCH_END_S = 0.50
P_GAP_S = 0.02
P_MIN_FRACTION = 0.02
_INDEPENDENT = [LEADS.index(v) for v in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]


# ----------------------------------------------------------------------------------------------
# Delineation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delineation:
    """Wave boundaries of a beat, as beat sample indices (R peak at ``r_index``).

    ``p_peak`` and ``p_end`` are None when no P wave was found (then "P wave" ends at ``qrs_onset``
    and "PR segment" is empty).
    """

    qrs_onset: int
    j_point: int
    t_onset: int
    t_peak: int
    t_end: int
    p_peak: int | None
    p_end: int | None
    r_index: int
    n_samples: int
    fs: float = FS

    def boundaries(self) -> dict[str, int]:
        """The named fiducial points (samples), P points only when found."""
        out = {
            "P end": self.p_end,
            "QRS onset": self.qrs_onset,
            "J point": self.j_point,
            "T onset": self.t_onset,
            "T peak": self.t_peak,
            "T end": self.t_end,
        }
        return {k: v for k, v in out.items() if v is not None}

    def boundaries_s(self) -> dict[str, float]:
        """The fiducial points in seconds relative to the R peak."""
        return {k: (v - self.r_index) / self.fs for k, v in self.boundaries().items()}

    def segments(self) -> dict[str, tuple[int, int]]:
        """Each region of :data:`WAVES` as a half-open sample interval; together they tile the beat."""
        p_end = self.qrs_onset if self.p_end is None else self.p_end
        edges = [0, p_end, self.qrs_onset, self.j_point, self.t_onset, self.t_end, self.n_samples]
        return {w: (edges[i], edges[i + 1]) for i, w in enumerate(WAVES)}

    def labels(self) -> np.ndarray:
        """The region name of every beat sample, shape (n_samples,)."""
        out = np.empty(self.n_samples, dtype=object)
        for wave, (a, b) in self.segments().items():
            out[a:b] = wave
        return out

    def table(self) -> pd.DataFrame:
        """One row per region: wave, start and end (s relative to R), duration (ms)."""
        rows = [
            dict(
                wave=w,
                start_s=(a - self.r_index) / self.fs,
                end_s=(b - self.r_index) / self.fs,
                duration_ms=1000.0 * (b - a) / self.fs,
            )
            for w, (a, b) in self.segments().items()
        ]
        return pd.DataFrame(rows)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    pad = width // 2
    padded = np.pad(x, (pad, width - 1 - pad), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _tangent_crossing(vm: np.ndarray, at: int, level: float) -> float:
    """Sample where the tangent to ``vm`` at ``at`` reaches ``level`` (central-difference slope)."""
    slope = (vm[min(at + 1, vm.size - 1)] - vm[max(at - 1, 0)]) / 2.0
    if slope == 0:
        return float(at)
    return at + (level - vm[at]) / slope


def delineate_beat(beat: np.ndarray, fs: float = FS) -> Delineation:
    """Delineate an average beat (12, L), or the grand average of a stack (N, 12, L; NaN rows ignored).

    The rule is in the module docstring. Raises ``ValueError`` when the beat has no detectable QRS
    (all-NaN, or constant).
    """
    x = np.asarray(beat, dtype=np.float64)
    if x.ndim == 3:
        keep = np.isfinite(x).all(axis=(1, 2))
        if not keep.any():
            raise ValueError("no finite average beat to delineate")
        x = x[keep].mean(axis=0)
    before, after = beat_window(fs)
    if x.shape != (len(LEADS), before + after):
        raise ValueError(
            f"beat must have shape ({len(LEADS)}, {before + after}) at fs={fs:g}, got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError("beat has non-finite samples")
    n = x.shape[1]
    r = before
    iso = isoelectric_segment(x, fs)
    x = x - x[:, iso[0] : iso[1]].mean(axis=1, keepdims=True)
    ind = x[_INDEPENDENT]
    width = max(int(round(SMOOTH_S * fs)), 1)
    sv = _smooth(np.sqrt((np.gradient(ind, axis=1) ** 2).sum(axis=0)), width)
    vm = _smooth(np.sqrt((ind**2).sum(axis=0)), width)

    q = int(round(QRS_SEARCH_S * fs))
    lo, hi = max(r - q, 1), min(r + q, n - 2)
    peak_sv = sv[lo : hi + 1].max()
    if not peak_sv > 0:
        raise ValueError("beat has no QRS (zero spatial velocity around the R peak)")
    threshold = QRS_SV_FRACTION * peak_sv
    pre = lo + int(np.argmax(sv[lo : r + 1]))
    below = np.flatnonzero(sv[: pre + 1] < threshold)
    qrs_onset = int(below[-1]) + 1 if below.size else 0
    post = r + int(np.argmax(sv[r : hi + 1]))
    below = np.flatnonzero(sv[post:] < threshold)
    j_point = post + int(below[0]) if below.size else n - 1

    t_lo = min(j_point + int(round(T_SEARCH_AFTER_J_S * fs)), n - 3)
    t_hi = min(r + int(round(T_SEARCH_END_S * fs)), n - 2)
    t_hi = max(t_hi, t_lo + 1)
    t_peak = t_lo + int(np.argmax(vm[t_lo : t_hi + 1]))
    dvm = np.gradient(vm)
    descent = t_peak + int(np.argmin(dvm[t_peak : n - 1]))
    t_end = int(np.clip(np.ceil(_tangent_crossing(vm, descent, 0.0)), descent, n))
    if t_peak > j_point + 1:
        ascent = j_point + int(np.argmax(dvm[j_point:t_peak]))
        st_level = vm[j_point : t_peak + 1].min()
        t_onset = int(np.clip(np.floor(_tangent_crossing(vm, ascent, st_level)), j_point, ascent))
    else:
        t_onset = j_point

    p_peak = p_end = None
    p_hi = qrs_onset - int(round(P_GAP_S * fs))
    if p_hi > 2:
        cand = int(np.argmax(vm[:p_hi]))
        if vm[cand] >= P_MIN_FRACTION * vm[lo : hi + 1].max() and 0 < cand:
            p_peak = cand
            p_descent = cand + int(np.argmin(dvm[cand:qrs_onset])) if qrs_onset > cand else cand
            p_end = int(
                np.clip(np.ceil(_tangent_crossing(vm, p_descent, 0.0)), p_descent, qrs_onset)
            )
    return Delineation(
        qrs_onset=qrs_onset,
        j_point=j_point,
        t_onset=t_onset,
        t_peak=t_peak,
        t_end=t_end,
        p_peak=p_peak,
        p_end=p_end,
        r_index=r,
        n_samples=n,
        fs=float(fs),
    )


# ----------------------------------------------------------------------------------------------
# Pointwise comparison
# ----------------------------------------------------------------------------------------------


def pointwise_tests(
    a: np.ndarray, b: np.ndarray, test: str = "welch"
) -> tuple[np.ndarray, np.ndarray]:
    """Test statistic and two-sided p-value at every position of the trailing axes (axis 0 = records).

    ``test="welch"``: Welch's t (``ttest_ind(equal_var=False)``); ``"mannwhitney"``: the U statistic
    (``mannwhitneyu``, two-sided, asymptotic with continuity correction). Undefined p-values (zero
    variance in both groups) are returned as 1.
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # scipy warns on (nearly) constant samples; their undefined p-values become 1 below.
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        if test == "welch":
            res = stats.ttest_ind(a, b, axis=0, equal_var=False)
        else:
            res = stats.mannwhitneyu(a, b, axis=0, alternative="two-sided", method="asymptotic")
    p = np.asarray(res.pvalue, dtype=np.float64)
    return np.asarray(res.statistic, dtype=np.float64), np.where(np.isfinite(p), p, 1.0)


def fdr_adjust(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """FDR-adjusted p-values (q-values) over all entries of ``p`` as one family, same shape."""
    if method not in FDR_METHODS:
        raise ValueError(f"fdr must be one of {FDR_METHODS}, got {method!r}")
    p = np.asarray(p, dtype=np.float64)
    return stats.false_discovery_control(p.ravel(), method=method).reshape(p.shape)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open (start, stop) of every run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


@dataclass(frozen=True, eq=False)
class WaveformComparison:
    """Group A vs group B average beats; arrays are (2, 12, L) per group or (12, L) per sample.

    ``diff`` = mean A - mean B, with the Welch 95% band ``ci_low``/``ci_high``; ``p`` the pointwise
    p-values, ``q`` their FDR adjustment, ``significant`` = ``q < alpha``; ``time_s`` the beat time
    relative to the R peak; ``delineation`` the waves of the grand average beat.
    """

    names: tuple[str, str]
    n: tuple[int, int]
    time_s: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    statistic: np.ndarray
    p: np.ndarray
    q: np.ndarray
    significant: np.ndarray
    delineation: Delineation
    test: str = "welch"
    fdr: str = "bh"
    alpha: float = 0.05
    leads: tuple[str, ...] = field(default=LEADS)

    @property
    def n_significant(self) -> int:
        return int(self.significant.sum())

    def curves(self) -> pd.DataFrame:
        """Long table: one row per lead and sample (means, SDs, difference, p, q, wave)."""
        n_leads, n_t = self.diff.shape
        waves = self.delineation.labels()
        return pd.DataFrame(
            {
                "lead": np.repeat(self.leads, n_t),
                "time_s": np.tile(self.time_s, n_leads),
                "wave": np.tile(waves, n_leads),
                f"mean_{self.names[0]}": self.mean[0].ravel(),
                f"sd_{self.names[0]}": self.sd[0].ravel(),
                f"mean_{self.names[1]}": self.mean[1].ravel(),
                f"sd_{self.names[1]}": self.sd[1].ravel(),
                "diff": self.diff.ravel(),
                "ci_low": self.ci_low.ravel(),
                "ci_high": self.ci_high.ravel(),
                "statistic": self.statistic.ravel(),
                "p": self.p.ravel(),
                "q": self.q.ravel(),
                "significant": self.significant.ravel(),
            }
        )

    def wave_table(self) -> pd.DataFrame:
        """Per lead and wave: mean difference, mean |difference|, largest |difference| (signed) and
        its time, share and number of significant samples, smallest q. Empty waves are left out."""
        rows = []
        for li, lead in enumerate(self.leads):
            for wave, (a, b) in self.delineation.segments().items():
                if b <= a:
                    continue
                d = self.diff[li, a:b]
                k = int(np.argmax(np.abs(d)))
                rows.append(
                    dict(
                        lead=lead,
                        wave=wave,
                        start_s=self.time_s[a],
                        end_s=self.time_s[b - 1],
                        n_samples=b - a,
                        mean_diff=float(d.mean()),
                        mean_abs_diff=float(np.abs(d).mean()),
                        peak_diff=float(d[k]),
                        peak_time_s=float(self.time_s[a + k]),
                        n_significant=int(self.significant[li, a:b].sum()),
                        share_significant=float(self.significant[li, a:b].mean()),
                        min_q=float(self.q[li, a:b].min()),
                    )
                )
        return pd.DataFrame(rows)

    def stretches(self, min_samples: int = 1) -> pd.DataFrame:
        """Contiguous runs of significant samples, per lead, named by wave.

        Columns: lead, start_s, end_s (time of the first and last sample), duration_ms, n_samples,
        wave (the region holding most of the run), waves (every region it touches, in time order),
        mean_diff, peak_diff (signed, at the largest |difference|), min_q. Runs shorter than
        ``min_samples`` are left out.
        """
        labels = self.delineation.labels()
        rows = []
        for li, lead in enumerate(self.leads):
            for a, b in _runs(self.significant[li]):
                if b - a < min_samples:
                    continue
                seg = labels[a:b]
                touched = [w for w in WAVES if (seg == w).any()]
                d = self.diff[li, a:b]
                rows.append(
                    dict(
                        lead=lead,
                        start_s=float(self.time_s[a]),
                        end_s=float(self.time_s[b - 1]),
                        duration_ms=1000.0 * (b - a) / self.delineation.fs,
                        n_samples=b - a,
                        wave=max(touched, key=lambda w: int((seg == w).sum())),
                        waves=", ".join(touched),
                        mean_diff=float(d.mean()),
                        peak_diff=float(d[np.argmax(np.abs(d))]),
                        min_q=float(self.q[li, a:b].min()),
                    )
                )
        return pd.DataFrame(rows, columns=list(STRETCH_COLUMNS))

    def lead_ranking(self, waves: Sequence[str] = ST_T) -> pd.DataFrame:
        """Leads ranked by mean |difference| over ``waves`` (default the ST-T window: ST segment and
        T wave), with the signed mean difference and the share of significant samples there."""
        unknown = set(waves) - set(WAVES)
        if unknown:
            raise ValueError(f"unknown wave(s) {sorted(unknown)}; expected some of {WAVES}")
        segs = self.delineation.segments()
        mask = np.zeros(self.diff.shape[1], dtype=bool)
        for w in waves:
            a, b = segs[w]
            mask[a:b] = True
        if not mask.any():
            raise ValueError(f"the window {list(waves)} is empty in this delineation")
        d = self.diff[:, mask]
        table = pd.DataFrame(
            {
                "lead": self.leads,
                "mean_abs_diff": np.abs(d).mean(axis=1),
                "mean_diff": d.mean(axis=1),
                "share_significant": self.significant[:, mask].mean(axis=1),
                "min_q": self.q[:, mask].min(axis=1),
            }
        )
        table = table.sort_values("mean_abs_diff", ascending=False, kind="stable").reset_index(
            drop=True
        )
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table


def compare_waveforms(
    group_a: np.ndarray,
    group_b: np.ndarray,
    *,
    fs: float = FS,
    names: tuple[str, str] = ("high risk", "low risk"),
    test: str = "welch",
    fdr: str = "bh",
    alpha: float = 0.05,
    delineation: Delineation | None = None,
) -> WaveformComparison:
    """Compare the average beats of two groups, (N_a, 12, L) and (N_b, 12, L); see the module docstring.

    Records with any NaN (excluded by :func:`~ecglib.signals.beats.average_beats`) are dropped; each group
    needs at least 2 records. ``delineation`` defaults to :func:`delineate_beat` of the grand
    average of both groups together.
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if fdr not in FDR_METHODS:
        raise ValueError(f"fdr must be one of {FDR_METHODS}, got {fdr!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    groups = []
    for name, g in zip(names, (group_a, group_b)):
        g = np.asarray(g, dtype=np.float64)
        if g.ndim != 3 or g.shape[1] != len(LEADS):
            raise ValueError(f"group {name!r} must have shape (N, {len(LEADS)}, L), got {g.shape}")
        g = g[np.isfinite(g).all(axis=(1, 2))]
        if g.shape[0] < 2:
            raise ValueError(
                f"group {name!r} has {g.shape[0]} usable average beat(s); need at least 2"
            )
        groups.append(g)
    a, b = groups
    if a.shape[2] != b.shape[2]:
        raise ValueError(f"beat lengths differ: {a.shape[2]} vs {b.shape[2]} samples")
    before, after = beat_window(fs)
    if a.shape[2] != before + after:
        raise ValueError(f"beats have {a.shape[2]} samples; {before + after} expected at fs={fs:g}")

    mean = np.stack([a.mean(axis=0), b.mean(axis=0)])
    sd = np.stack([a.std(axis=0, ddof=1), b.std(axis=0, ddof=1)])
    diff = mean[0] - mean[1]
    # Welch standard error and Welch-Satterthwaite degrees of freedom for the 95% band.
    va, vb = sd[0] ** 2 / a.shape[0], sd[1] ** 2 / b.shape[0]
    se = np.sqrt(va + vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = (va + vb) ** 2 / (va**2 / (a.shape[0] - 1) + vb**2 / (b.shape[0] - 1))
    half = stats.t.ppf(0.975, np.where(np.isfinite(dof), dof, 1.0)) * se
    statistic, p = pointwise_tests(a, b, test)
    q = fdr_adjust(p, fdr)
    if delineation is None:
        delineation = delineate_beat(np.concatenate([a, b]).mean(axis=0), fs)
    return WaveformComparison(
        names=(str(names[0]), str(names[1])),
        n=(a.shape[0], b.shape[0]),
        time_s=(np.arange(before + after) - before) / fs,
        mean=mean,
        sd=sd,
        diff=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        statistic=statistic,
        p=p,
        q=q,
        significant=q < alpha,
        delineation=delineation,
        test=test,
        fdr=fdr,
        alpha=float(alpha),
    )
