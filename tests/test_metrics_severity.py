"""ecglib.metrics.severity (Spearman's rho by grade, the grade summary) and the box plots of
ecglib.plots.severity: what they compute and draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from test_metrics_subgroups import cohort  # noqa: E402

from ecglib.metrics.resamples import loop_reference, patient_resamples  # noqa: E402
from ecglib.metrics.severity import (  # noqa: E402
    TREND_COLUMNS,
    grade_summary,
    severity_trend,
    spearman_resampled,
)
from ecglib.plots.severity import GRADE_SHORT, severity_boxplot_figure  # noqa: E402
from ecglib.schema import GRADES, VESSELS, grade_col, prob_col  # noqa: E402


def _clustered(n_patients=200, seed=0):
    """Patients with 1-6 ECGs that share the grade and most of the probability."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n_patients)
    patient = np.repeat(np.arange(n_patients) * 7 + 3, sizes)
    df = cohort(len(patient), seed)
    for v in VESSELS:
        grade = np.repeat(rng.choice(5, n_patients, p=[0.4, 0.25, 0.2, 0.1, 0.05]), sizes)
        shared = np.repeat(rng.normal(size=n_patients), sizes)
        df[grade_col(v)] = grade
        # rounded, so that the probabilities have ties too
        df[prob_col(v)] = np.round(
            1 / (1 + np.exp(-(0.4 * grade + shared + 0.3 * rng.normal(size=len(grade)) - 2))), 2
        )
    df["patient"] = patient
    return df


def _spearman(t, vessel="RCA"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, as the vectorised version
        return float(stats.spearmanr(t[prob_col(vessel)], t[grade_col(vessel)]).statistic)


def test_severity_trend_is_scipy_spearman_and_has_no_ecg_level_p_value():
    df = cohort()
    trend = severity_trend(df)
    assert trend.columns.tolist() == list(TREND_COLUMNS) and "p_value" not in trend
    for _, row in trend.iterrows():
        ref = stats.spearmanr(df[prob_col(row["vessel"])], df[grade_col(row["vessel"])])
        assert row["rho"] == pytest.approx(ref.statistic)
        assert row["rho"] > 0.2 and row["n"] == len(df)
    # without resamples: no interval, no test, no patients column to count
    assert trend[["rho_lo", "rho_hi", "patients"]].isna().all().all()
    assert not trend["excludes_0"].any() and (trend["n_boot"] == 0).all()


def test_spearman_resampled_equals_scipy_on_each_materialised_resample():
    df = _clustered()
    res = patient_resamples(df["patient"], 300, seed=4)
    w = res.weights(df["patient"])
    for vessel in ("RCA", "LM"):
        fast = spearman_resampled(df[prob_col(vessel)], df[grade_col(vessel)], w)
        slow = loop_reference(lambda t, v=vessel: _spearman(t, v), df, w)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    # a resample holding one grade (or one value) has no rho: NaN, like scipy
    x, g = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1])
    w = np.array([[1, 1, 0, 0], [0, 0, 2, 0], [1, 0, 0, 3], [2, 1, 1, 0]])
    fast = spearman_resampled(x, g, w)
    assert np.isnan(fast[:2]).all()
    t = pd.DataFrame({"p_RCA": x, "grade_RCA": g})
    np.testing.assert_allclose(fast, loop_reference(_spearman, t, w), atol=1e-12)
    with pytest.raises(ValueError, match="weights must be"):
        spearman_resampled(x, g, w[:, :3])


def test_trend_interval_is_the_percentile_interval_of_the_patient_bootstrap():
    df = _clustered(seed=1)
    res = patient_resamples(df["patient"], 400, seed=2)
    trend = severity_trend(df, resamples=res, level=0.9).set_index("vessel")
    slow = loop_reference(_spearman, df, res.weights(df["patient"]))
    assert (trend.at["RCA", "rho_lo"], trend.at["RCA", "rho_hi"]) == pytest.approx(
        tuple(np.percentile(slow, [5, 95])), abs=1e-12
    )
    assert trend.at["RCA", "patients"] == 200 and trend.at["RCA", "n_boot"] == 400
    assert trend.at["RCA", "rho_lo"] > 0 and trend.at["RCA", "excludes_0"]
    with pytest.raises(KeyError, match="patient column"):
        severity_trend(df.drop(columns="patient"), resamples=res)


def test_duplicated_ecgs_add_no_information_on_patients():
    # Every patient's ECG copied 8 times: rho and its patient-bootstrap interval stay put (an
    # ECG-level interval would shrink by about sqrt(8)); no trend here, so the interval covers 0.
    rng = np.random.default_rng(5)
    one = pd.DataFrame(
        {"patient": np.arange(150), "p_RCA": rng.random(150), "grade_RCA": rng.integers(0, 5, 150)}
    )
    one["y_RCA"] = (one["grade_RCA"] >= 3).astype(int)
    eight = one.loc[one.index.repeat(8)].reset_index(drop=True)
    res = patient_resamples(one["patient"], 500, seed=0)
    a = severity_trend(one, ["RCA"], resamples=res).iloc[0]
    b = severity_trend(eight, ["RCA"], resamples=res).iloc[0]
    assert (b["rho"], b["rho_lo"], b["rho_hi"]) == pytest.approx(
        (a["rho"], a["rho_lo"], a["rho_hi"]), abs=1e-12
    )
    assert b["n"] == 8 * a["n"] and b["patients"] == a["patients"] == 150
    assert a["rho_lo"] < 0 < a["rho_hi"] and not a["excludes_0"]


def test_severity_single_grade_gives_nan_and_bad_grades_raise():
    df = _clustered()
    df[grade_col("LM")] = 0
    res = patient_resamples(df["patient"], 20)
    trend = severity_trend(df, resamples=res).set_index("vessel")
    assert np.isnan(trend.loc["LM", ["rho", "rho_lo", "rho_hi"]].astype(float)).all()
    assert trend.loc["LM", "grades_present"] == 1 and not trend.loc["LM", "excludes_0"]
    df[grade_col("LM")] = 5
    with pytest.raises(ValueError, match=f"LM: row {df.index[0]} has grade 5 "):
        severity_trend(df)


def test_grade_summary_medians_and_iqr():
    df = cohort()
    summary = grade_summary(df)
    assert len(summary) == len(VESSELS) * 5
    row = summary[(summary["vessel"] == "RCA") & (summary["grade"] == 2)].iloc[0]
    x = df.loc[df[grade_col("RCA")] == 2, prob_col("RCA")]
    assert row["n"] == len(x) and row["median"] == pytest.approx(x.median())
    assert (row["q1"], row["q3"]) == pytest.approx(tuple(np.percentile(x, [25, 75])))
    assert row["grade_name"] == "moderate" and np.isnan(row["patients"])
    clustered = _clustered()
    row = grade_summary(clustered).query("vessel == 'LAD' and grade == 0").iloc[0]
    at = clustered[grade_col("LAD")] == 0
    assert (row["n"], row["patients"]) == (at.sum(), clustered.loc[at, "patient"].nunique())


def test_box_plots_show_each_grades_count_and_the_trend():
    df = _clustered()
    trend = severity_trend(df, resamples=patient_resamples(df["patient"], 50)).set_index("vessel")
    summary = grade_summary(df)
    fig = severity_boxplot_figure(df, trend=trend.reset_index(), title="internal")
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    assert fig._suptitle.get_text() == "internal"
    assert fig.axes[0].get_ylabel() == "predicted probability"
    for ax, vessel in zip(fig.axes, VESSELS):
        n = summary[summary["vessel"] == vessel].set_index("grade")["n"]
        assert [t.get_text() for t in ax.get_xticklabels()] == [
            f"{GRADE_SHORT[g]}\n{int(n[g])}" for g in GRADES
        ]
        rho, lo, hi = trend.loc[vessel, ["rho", "rho_lo", "rho_hi"]]
        assert [t.get_text() for t in ax.texts] == [
            f"Spearman ρ = {rho:.2f} [{lo:.2f}{' to ' if lo < 0 else '-'}{hi:.2f}]"
        ]
        # one box per grade present, its median line at the grade's median probability
        medians = [
            line
            for line in ax.lines
            if len(set(line.get_ydata())) == 1 and np.ptp(line.get_xdata()) == pytest.approx(0.6)
        ]
        present = [g for g in GRADES if n[g]]
        assert len(medians) == len(present)
        want = summary[(summary["vessel"] == vessel) & (summary["n"] > 0)]["median"]
        assert [float(line.get_ydata()[0]) for line in medians] == pytest.approx(want.tolist())
    plt.close(fig)


def test_box_plot_of_a_vessel_with_one_grade_says_rho_is_undefined():
    df = cohort()
    df[grade_col("LM")] = 0
    fig = severity_boxplot_figure(df, ["LM"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["Spearman ρ: n/a"]
    assert [t.get_text() for t in ax.get_xticklabels()][1:] == [
        f"{GRADE_SHORT[g]}\n0" for g in list(GRADES)[1:]
    ]
    plt.close(fig)
    # a trend without an interval (computed by the figure itself) shows rho alone
    rho = severity_trend(df, ["RCA"]).at[0, "rho"]
    fig = severity_boxplot_figure(df, ["RCA"])
    assert [t.get_text() for t in fig.axes[0].texts] == [f"Spearman ρ = {rho:.2f}"]
    plt.close(fig)
