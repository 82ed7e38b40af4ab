"""ecglib.metrics.severity (Spearman's rho by grade, the grade summary) and the box plots of
ecglib.plots.severity: what they compute and draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from test_metrics_subgroups import cohort  # noqa: E402

from ecglib.metrics.severity import grade_summary, severity_trend  # noqa: E402
from ecglib.plots.severity import GRADE_SHORT, severity_boxplot_figure  # noqa: E402
from ecglib.report.present import format_p  # noqa: E402
from ecglib.schema import GRADES, VESSELS, grade_col, prob_col  # noqa: E402


def test_severity_trend_is_scipy_spearman():
    df = cohort()
    trend = severity_trend(df)
    for _, row in trend.iterrows():
        ref = stats.spearmanr(df[prob_col(row["vessel"])], df[grade_col(row["vessel"])])
        assert row["rho"] == pytest.approx(ref.statistic)
        assert row["p_value"] == pytest.approx(ref.pvalue)
        assert row["rho"] > 0.2 and row["n"] == len(df)


def test_severity_single_grade_gives_nan_and_bad_grades_raise():
    df = cohort()
    df[grade_col("LM")] = 0
    trend = severity_trend(df).set_index("vessel")
    assert np.isnan(trend.loc["LM", "rho"]) and trend.loc["LM", "grades_present"] == 1
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
    assert row["grade_name"] == "moderate"


def test_box_plots_show_each_grades_count_and_the_trend():
    df = cohort()
    trend = severity_trend(df).set_index("vessel")
    summary = grade_summary(df)
    fig = severity_boxplot_figure(df, title="internal")
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    assert fig._suptitle.get_text() == "internal"
    assert fig.axes[0].get_ylabel() == "predicted probability"
    for ax, vessel in zip(fig.axes, VESSELS):
        n = summary[summary["vessel"] == vessel].set_index("grade")["n"]
        assert [t.get_text() for t in ax.get_xticklabels()] == [
            f"{GRADE_SHORT[g]}\n{int(n[g])}" for g in GRADES
        ]
        rho, p = trend.loc[vessel, "rho"], trend.loc[vessel, "p_value"]
        assert [t.get_text() for t in ax.texts] == [
            f"Spearman ρ = {rho:.2f}, {format_p(p, prefix='p')}"
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
    assert [t.get_text() for t in ax.texts] == ["Spearman ρ n/a"]
    assert [t.get_text() for t in ax.get_xticklabels()][1:] == [
        f"{GRADE_SHORT[g]}\n0" for g in list(GRADES)[1:]
    ]
    plt.close(fig)
