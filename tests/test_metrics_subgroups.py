"""ecglib.metrics.subgroups (clustered subgroup AUCs, the clustered test with shared patients,
Holm), the forest plot of
ecglib.plots.subgroups and the ROC figure of ecglib.plots.roc: what they compute and draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ecglib.config import EvaluationParams  # noqa: E402
from ecglib.metrics._inputs import MissingInputError  # noqa: E402
from ecglib.metrics.clustered_roc import (  # noqa: E402
    clustered_auc_table,
    clustered_delong_two_set_test,
)
from ecglib.metrics.roc import compare_independent_aucs, delong_auc, vessel_auc_table  # noqa: E402
from ecglib.metrics.subgroups import (  # noqa: E402
    COLUMNS,
    VARIABLE_LABELS,
    define_subgroups,
    subgroup_auc_table,
)
from ecglib.plots.roc import roc_figure  # noqa: E402
from ecglib.plots.subgroups import subgroup_forest_figure  # noqa: E402
from ecglib.report.present import format_estimate, format_p  # noqa: E402
from ecglib.schema import VESSELS, grade_col, label_col, prob_col  # noqa: E402


def cohort(n=600, seed=0) -> pd.DataFrame:
    """Predictions joined to cohort columns, one ECG per row, with grades that drive the
    probabilities (the ROC figures' input)."""
    rng = np.random.default_rng(seed)
    table = {}
    for v, prev in zip(VESSELS, (0.15, 0.03, 0.25, 0.15)):
        grade = rng.choice(5, n, p=[0.45, 0.25, 0.3 - prev, prev * 0.7, prev * 0.3])
        table[grade_col(v)] = grade
        table[label_col(v)] = (grade >= 3).astype(int)
        table[prob_col(v)] = 1 / (1 + np.exp(-(0.6 * grade + rng.normal(size=n) - 2.5)))
    df = pd.DataFrame(table, index=pd.RangeIndex(n)[::-1] + 1000)  # not a 0..n-1 index
    df["age"] = rng.normal(63, 10, n).round()
    df["sex"] = rng.choice(["male", "female"], n)
    df["ecg_ccta_hours"] = np.where(rng.random(n) < 0.2, np.nan, rng.exponential(10, n))
    return df


def clustered_cohort(n_patients=300, seed=0) -> pd.DataFrame:
    """Predictions joined to cohort columns: patients with 1-4 ECGs, grades that drive the
    probabilities, ages at the ECG that can straddle 65 and ECG-CCTA intervals on both sides of
    3 h within a patient (shared patients)."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), rng.integers(1, 5, n_patients))
    n = len(patient)
    table = {"patient": patient}
    for v, prev in zip(VESSELS, (0.15, 0.03, 0.25, 0.15)):
        grade = rng.choice(5, n_patients, p=[0.45, 0.25, 0.3 - prev, prev * 0.7, prev * 0.3])
        table[grade_col(v)] = grade[patient]
        table[label_col(v)] = (grade[patient] >= 3).astype(int)
        table[prob_col(v)] = 1 / (1 + np.exp(-(0.6 * grade[patient] + rng.normal(size=n) - 2.5)))
    df = pd.DataFrame(table, index=pd.RangeIndex(n)[::-1] + 1000)  # not a 0..n-1 index
    df["age"] = (rng.normal(63, 10, n_patients)[patient] + rng.uniform(0, 2, n)).round(1)
    df["sex"] = rng.choice(["male", "female"], n_patients)[patient]
    df["ecg_ccta_hours"] = np.where(rng.random(n) < 0.2, np.nan, rng.exponential(10, n))
    return df


def shared_count(df, labels, level, reference) -> int:
    return len(set(df["patient"][labels == level]) & set(df["patient"][labels == reference]))


def holm_by_hand(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment written out: the i-th smallest of m p-values times
    (m - i + 1), made non-decreasing in that order, capped at 1."""
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


# ------------------------------------------------------------------------------------------
# define_subgroups
# ------------------------------------------------------------------------------------------
def test_define_subgroups_cut_points_and_unknown_interval():
    df = pd.DataFrame(
        {
            "age": [64.9, 65, 80, np.nan],
            "sex": ["male", "female", None, "male"],
            "ecg_ccta_hours": [3.0, 3.01, np.nan, 0.5],
        },
        index=[5, 6, 7, 8],
    )
    sg = define_subgroups(df)
    assert list(sg.columns) == ["age", "sex", "interval"]
    assert list(sg["age"].astype(object)) == ["< 65", "≥ 65", "≥ 65", np.nan]
    assert list(sg["sex"].astype(object)) == ["male", "female", np.nan, "male"]
    assert list(sg["interval"].astype(object)) == ["≤ 3 h", "> 3 h", np.nan, "≤ 3 h"]
    assert list(sg["age"].cat.categories) == ["< 65", "≥ 65"]  # reference first
    assert sg.index.equals(df.index)


def test_define_subgroups_takes_the_params_definitions():
    df = pd.DataFrame({"age": [69.9, 70, 50], "sex": ["male", "female", "male"]})
    df["ecg_ccta_hours"] = [23.5, 24.0, 24.5]
    ev = EvaluationParams(
        subgroup_variables=("interval", "age"),
        subgroup_age_cut_years=70.0,
        subgroup_interval_cut_hours=24.0,
    )
    sg = define_subgroups(
        df,
        variables=ev.subgroup_variables,
        age_cut=ev.subgroup_age_cut_years,
        interval_cut_hours=ev.subgroup_interval_cut_hours,
    )
    assert list(sg.columns) == ["interval", "age"]  # the params' order, sex left out
    assert list(sg["age"].astype(object)) == ["< 70", "≥ 70", "< 70"]
    assert list(sg["interval"].astype(object)) == ["≤ 24 h", "≤ 24 h", "> 24 h"]
    # only the columns of the variables asked for are needed
    assert list(define_subgroups(df[["sex"]], variables=["sex"]).columns) == ["sex"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variables": ["age", "bmi"]}, "subgroup variables must be distinct names"),
        ({"variables": ["age", "age"]}, "subgroup variables must be distinct names"),
        ({"variables": []}, "at least one"),
        ({"age_cut": 0}, "age_cut = 0: must be a positive number of years"),
        ({"age_cut": "sixty"}, "age_cut = 'sixty': must be a positive number"),
        ({"interval_cut_hours": float("nan")}, "interval_cut_hours = nan: must be a positive"),
        ({"interval_cut_hours": float("inf")}, "must be a finite number of hours"),
    ],
)
def test_define_subgroups_rejects_bad_definitions(kwargs, message):
    df = pd.DataFrame({"age": [50, 70], "sex": ["male", "female"], "ecg_ccta_hours": [1, 5]})
    with pytest.raises(ValueError, match=message):
        define_subgroups(df, **kwargs)


def test_define_subgroups_without_intervals_leaves_the_variable_out():
    df = pd.DataFrame({"age": [50, 70], "sex": ["male", "female"], "ecg_ccta_hours": np.nan})
    with pytest.warns(UserWarning, match="interval subgroups are left out"):
        sg = define_subgroups(df)
    assert list(sg.columns) == ["age", "sex"]
    with pytest.warns(UserWarning), pytest.raises(MissingInputError, match="no pre-specified"):
        define_subgroups(df, variables=["interval"])


def test_define_subgroups_rejects_missing_columns_and_raw_sex_labels():
    with pytest.raises(MissingInputError, match="no age column"):
        define_subgroups(pd.DataFrame({"sex": ["male"]}))
    with pytest.raises(ValueError, match="not canonical"):
        define_subgroups(pd.DataFrame({"age": [50], "sex": ["M"], "ecg_ccta_hours": [1.0]}))


# ------------------------------------------------------------------------------------------
# subgroup_auc_table
# ------------------------------------------------------------------------------------------
def test_subgroup_table_matches_direct_computation_and_the_clustered_test():
    df = clustered_cohort()
    sg = define_subgroups(df)
    table = subgroup_auc_table(df, sg)
    assert list(table.columns) == list(COLUMNS)
    assert set(table["variable"]) == {"age", "sex", "interval"}
    assert len(table) == 3 * 2 * len(VESSELS)
    for variable in ("age", "sex", "interval"):
        levels = list(sg[variable].cat.categories)
        masks = [(sg[variable] == level).to_numpy() for level in levels]
        shared = shared_count(df, sg[variable].to_numpy(), levels[1], levels[0])
        for v in VESSELS:
            rows = table[(table["variable"] == variable) & (table["vessel"] == v)]
            assert list(rows["subgroup"]) == levels
            ref, other = rows.iloc[0], rows.iloc[1]
            for row, mask in ((ref, masks[0]), (other, masks[1])):
                direct = clustered_auc_table(df[mask], [v]).iloc[0]
                assert row["auc"] == pytest.approx(direct["auc"], abs=1e-14)
                assert row["se"] == pytest.approx(direct["se"], rel=1e-12)
                assert row["ci_low"] == pytest.approx(direct["ci_low"], abs=1e-14)
                assert row["n"] == mask.sum() and row["patients"] == direct["clusters"]
                positive = df[mask & (df[label_col(v)] == 1).to_numpy()]
                assert row["positives"] == len(positive)
                assert row["positive_patients"] == positive["patient"].nunique()
                assert row["reference"] == levels[0] and row["reason"] == ""
            assert ref[["shared_patients", "auc_diff", "p_value", "p_holm"]].isna().all()
            assert other["shared_patients"] == shared
            test = clustered_delong_two_set_test(
                df.loc[masks[1], label_col(v)],
                df.loc[masks[1], prob_col(v)],
                df.loc[masks[1], "patient"],
                df.loc[masks[0], label_col(v)],
                df.loc[masks[0], prob_col(v)],
                df.loc[masks[0], "patient"],
            )
            assert other["p_value"] == pytest.approx(test.p_value, rel=1e-12)
            assert other["se_diff"] == pytest.approx(test.se, rel=1e-12)
            assert other["auc_diff"] == pytest.approx(other["auc"] - ref["auc"], abs=1e-14)
            independent = compare_independent_aucs(
                other["auc"], other["se"] ** 2, ref["auc"], ref["se"] ** 2
            )
            if shared == 0:  # sex: no patient in both, the independent test exactly
                assert other["p_value"] == pytest.approx(independent.p_value, rel=1e-12)
            else:  # shared patients: the covariance changes the test
                assert abs(other["se_diff"] - independent.se) > 1e-9
    counts = table.drop_duplicates("variable").set_index("variable")["shared_patients"]
    shared = table[table["shared_patients"].notna()].drop_duplicates("variable")
    assert dict(zip(shared["variable"], shared["shared_patients"])) == {
        "age": shared_count(df, sg["age"].to_numpy(), "≥ 65", "< 65"),
        "sex": 0,
        "interval": shared_count(df, sg["interval"].to_numpy(), "> 3 h", "≤ 3 h"),
    }
    assert counts.isna().all()  # the reference rows
    assert shared.set_index("variable").loc[["age", "interval"], "shared_patients"].min() > 5
    # the interval variable only counts rows with a known interval
    known = df["ecg_ccta_hours"].notna().sum()
    interval = table[(table["variable"] == "interval") & (table["vessel"] == "RCA")]
    assert interval["n"].sum() == known < len(df)


def test_holm_is_over_every_comparison_of_the_table():
    df = clustered_cohort(seed=4)
    table = subgroup_auc_table(df, define_subgroups(df))
    tested = table["p_value"].notna()
    assert tested.sum() >= 8  # LM may lack positives in a subgroup
    np.testing.assert_allclose(
        table.loc[tested, "p_holm"], holm_by_hand(table.loc[tested, "p_value"].to_numpy())
    )
    assert (table.loc[tested, "p_holm"] >= table.loc[tested, "p_value"]).all()
    assert table.loc[~tested, "p_holm"].isna().all()
    # a smaller family, a smaller adjustment: the family is the table
    one = subgroup_auc_table(df, define_subgroups(df, variables=["sex"]))
    assert (
        one["p_holm"].dropna().to_numpy()
        <= table.loc[(table["variable"] == "sex") & tested, "p_holm"].to_numpy()
    ).all()


def test_one_class_subgroup_gives_nan_with_reason_not_an_error():
    df = clustered_cohort()
    group = pd.Series(np.where(df["patient"] < 20, "small", "large"), index=df.index, name="site")
    small = (group == "small").to_numpy()
    df.loc[small, label_col("LM")] = 0  # no LM positives in "small"
    df.loc[small, label_col("LCX")] = 0
    df.loc[df.index[small][0], label_col("LCX")] = 1  # a single positive
    table = subgroup_auc_table(df, group)
    lm = table[(table["vessel"] == "LM") & (table["subgroup"] == "small")].iloc[0]
    assert np.isnan(lm["auc"]) and lm["reason"] == f"one class: no positives among {small.sum()}"
    lcx = table[(table["vessel"] == "LCX") & (table["subgroup"] == "small")].iloc[0]
    assert np.isfinite(lcx["auc"]) and np.isnan(lcx["ci_low"])
    assert "single positive" in lcx["reason"]
    # the comparison of a NaN subgroup is NaN too, and nothing raised
    assert table.loc[(table["vessel"].isin(["LM", "LCX"])), "p_value"].isna().all()
    assert table.loc[(table["vessel"] == "RCA"), "p_value"].notna().sum() == 1


def test_empty_category_is_reported_and_bad_labels_name_the_vessel():
    df = clustered_cohort()
    df["sex"] = "male"
    table = subgroup_auc_table(df, define_subgroups(df)[["sex"]], vessels=["RCA"])
    female = table[table["subgroup"] == "female"].iloc[0]
    assert female["n"] == 0 and female["reason"] == "no predictions in this subgroup"
    assert female["patients"] == 0 and female["shared_patients"] == 0
    assert np.isnan(female["p_value"]) and np.isnan(female["p_holm"])
    df[label_col("LAD")] = df[label_col("LAD")].astype(float)
    df.iloc[3, df.columns.get_loc(label_col("LAD"))] = np.nan
    with pytest.raises(ValueError, match="y of LAD must be 0/1"):
        subgroup_auc_table(df, define_subgroups(df))


def test_missing_patients_are_named():
    df = clustered_cohort()
    with pytest.raises(KeyError, match="no cluster column 'patient'"):
        subgroup_auc_table(df.drop(columns=["patient"]), "sex")
    df["patient"] = df["patient"].astype(float)
    df.iloc[5, df.columns.get_loc("patient")] = np.nan
    with pytest.raises(ValueError, match="patient must name a cluster for every row; position 5"):
        subgroup_auc_table(df, "sex")


def test_subgroup_column_by_name_and_misaligned_index():
    df = clustered_cohort()
    df["grp"] = np.where(df["age"] >= 65, "old", "young")
    by_name = subgroup_auc_table(df, "grp", vessels=["RCA"])
    assert list(by_name["subgroup"]) == ["old", "young"]  # sorted levels
    with pytest.raises(ValueError, match="indexed like the predictions"):
        subgroup_auc_table(df, pd.Series(["a"] * 10, name="x"))


def test_subgroup_rows_are_the_clustered_auc_table_of_each_subgroup():
    """Every subgroup's AUC columns are clustered_auc_table of its rows (one-class policy nan),
    including the reason of a zero variance."""
    df = clustered_cohort()
    df["grp"] = np.where(df["patient"] < 40, "a", "b")
    a = df["grp"] == "a"
    df.loc[a, prob_col("LAD")] = df.loc[a, label_col("LAD")] * 0.5 + 0.25  # complete separation
    table = subgroup_auc_table(df, "grp")
    for level in ("a", "b"):
        want = clustered_auc_table(df[df["grp"] == level], one_class="nan")
        want = want.rename(columns={"clusters": "patients"})
        got = table[table["subgroup"] == level].reset_index(drop=True)
        cols = ["vessel", "n", "patients", "positives", "auc", "se", "ci_low", "ci_high", "reason"]
        pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=False, rtol=0, atol=1e-14)
    lad = table[(table["subgroup"] == "a") & (table["vessel"] == "LAD")].iloc[0]
    assert lad["auc"] == 1.0 and lad["reason"].startswith("clustered DeLong variance 0")


# ------------------------------------------------------------------------------------------
# figures: what they show
# ------------------------------------------------------------------------------------------
def test_roc_figures_draw_with_a_second_set_and_a_one_class_vessel():
    internal, external = cohort(seed=1), cohort(n=120, seed=2)
    external[label_col("LM")] = 0  # no LM positives externally
    for layout in ("panels", "single"):
        fig = roc_figure({"internal": internal, "external": external}, layout=layout)
        assert isinstance(fig, Figure)
        assert len(fig.axes) == (len(VESSELS) if layout == "panels" else 1)
        texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
        assert any("no AUC (0/120 positive)" in t for t in texts)
        assert any(t.startswith("internal: 0.") or t.startswith("RCA, internal: 0.") for t in texts)
        plt.close(fig)
    fig = roc_figure(internal, label="pooled OOF")
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    rca = delong_auc(internal[label_col("RCA")], internal[prob_col("RCA")])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(format_estimate(rca.auc, digits=3) in t for t in legend)
    plt.close(fig)


def test_roc_figure_legends_show_the_given_aucs_and_intervals():
    internal = cohort(seed=1)
    given = vessel_auc_table(internal).assign(set="internal", ci_low=0.101, ci_high=0.909)
    fig = roc_figure({"internal": internal}, aucs=given, interval="patient-clustered")
    for ax, row in zip(fig.axes, given.itertuples()):
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == [
            f"internal: {format_estimate(row.auc, 0.101, 0.909)}"
        ]
        assert legend.get_title().get_text() == "AUC [95% CI, patient-clustered]"
    plt.close(fig)
    with pytest.raises(KeyError, match="no set 'external'"):
        roc_figure({"external": internal}, aucs=given)
    with pytest.raises(KeyError, match=r"no row for \['LCX'\]"):
        roc_figure({"internal": internal}, aucs=given[given["vessel"] != "LCX"])


def test_forest_plot_shows_each_subgroups_auc_ci_and_p():
    df = clustered_cohort()
    sg = define_subgroups(df)
    table = subgroup_auc_table(df, sg)
    fig = subgroup_forest_figure(table)
    assert [ax.get_title() for ax in fig.axes] == list(VESSELS)
    assert all(ax.get_xlabel() == "AUC" for ax in fig.axes)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    young, old = (df[(sg["age"] == level).to_numpy()] for level in ("< 65", "≥ 65"))
    assert labels[:3] == [
        VARIABLE_LABELS["age"],
        f"   < 65  ({len(young):,} ECGs, {young['patient'].nunique():,} pts)",
        f"   ≥ 65  ({len(old):,} ECGs, {old['patient'].nunique():,} pts)",
    ]
    for ax, vessel in zip(fig.axes, VESSELS):
        rows = table[table["vessel"] == vessel]
        # one square marker per subgroup, at its AUC, and one CI line per subgroup
        squares = [line for line in ax.lines if line.get_marker() == "s"]
        assert [float(line.get_xdata()[0]) for line in squares] == pytest.approx(
            rows["auc"].tolist()
        )
        ci = [
            float(x)
            for line in ax.lines
            if len(line.get_xdata()) == 2 and line.get_linestyle() == "-"
            for x in line.get_xdata()
        ]
        assert ci == pytest.approx(rows[["ci_low", "ci_high"]].to_numpy().ravel().tolist())
        # the variable's header carries the raw and Holm p-values of the difference test
        texts = {t.get_text() for t in ax.texts}
        tested = rows.dropna(subset=["p_value"])
        assert len(tested) == 3
        for r in tested.itertuples():
            assert f"{format_p(r.p_value, prefix='p')}, Holm {format_p(r.p_holm)}" in texts
    plt.close(fig)


def test_forest_plot_marks_a_subgroup_without_an_auc():
    df = clustered_cohort()
    group = pd.Series(np.where(df["patient"] < 20, "small", "large"), index=df.index, name="site")
    df.loc[(group == "small").to_numpy(), label_col("LM")] = 0
    table = subgroup_auc_table(df, group, vessels=["LM"])
    fig = subgroup_forest_figure(table)
    ax = fig.axes[0]
    assert "n/a" in {t.get_text() for t in ax.texts}
    assert len([line for line in ax.lines if line.get_marker() == "s"]) == 1  # "large" only
    assert not any(t.get_text().startswith("p =") for t in ax.texts)  # no test, no p
    plt.close(fig)


def test_the_books_formatters():
    assert format_estimate(0.7941, 0.7712, 0.8163) == "0.794 [0.771-0.816]"
    assert format_estimate(0.8, np.nan, np.nan) == "0.800"
    assert format_estimate(0.8, 0.7, np.nan) == "0.800 [CI n/a]"
    assert format_p(0.0004, prefix="p") == "p < 0.001"
    assert format_p(0.0432, prefix="p") == "p = 0.043"
    assert format_p(0.43, prefix="p") == "p = 0.43" and format_p(np.nan, prefix="p") == "p = n/a"
    assert format_p(0.0432) == "0.043" and format_p(0.43) == "0.43"


# ------------------------------------------------------------------------------------------
# the small-count policy
# ------------------------------------------------------------------------------------------
def test_min_events_withholds_a_small_subgroup_and_its_test_and_holm_counts_the_rest():
    df = clustered_cohort()
    group = pd.Series(np.where(df["patient"] < 40, "small", "large"), index=df.index, name="site")
    small = (group == "small").to_numpy()
    df.loc[small, label_col("LM")] = 0
    first = df.index[small][df.loc[small, "patient"].to_numpy() != df.loc[small, "patient"].iloc[0]]
    df.loc[[df.index[small][0], first[0], first[-1]], label_col("LM")] = 1  # 3 positives
    plain = subgroup_auc_table(df, group)
    table = subgroup_auc_table(df, group, min_events=5)
    lm = table[(table["vessel"] == "LM") & (table["subgroup"] == "small")].iloc[0]
    assert lm["positives"] == 3 and lm["withheld"] == "too few events (3)"
    assert np.isnan([lm["auc"], lm["se"], lm["ci_low"], lm["ci_high"]]).all()
    plain_lm = plain[(plain["vessel"] == "LM") & (plain["subgroup"] == "small")].iloc[0]
    assert np.isfinite(plain_lm["auc"]) and plain_lm["withheld"] == ""
    # the withheld subgroup is not tested, and Holm's family is the tests made
    assert table.loc[table["vessel"] == "LM", "p_value"].isna().all()
    tested = table["p_value"].notna()
    assert np.isfinite(plain_lm["p_value"])  # without the policy it was tested
    assert tested.sum() == plain["p_value"].notna().sum() - 1
    np.testing.assert_allclose(
        table.loc[tested, "p_holm"], holm_by_hand(table.loc[tested, "p_value"].to_numpy())
    )
    # the other vessels are untouched
    keep = table["vessel"] != "LM"
    pd.testing.assert_series_equal(table.loc[keep, "auc"], plain.loc[keep, "auc"])
    # the forest plot says why, not "n/a"
    fig = subgroup_forest_figure(table[table["vessel"] == "LM"])
    assert "too few events" in {t.get_text() for t in fig.axes[0].texts}
    plt.close(fig)


def test_roc_figure_draws_no_curve_for_a_withheld_auc():
    from ecglib.metrics.small_counts import withhold

    internal = cohort(seed=1)
    given = withhold(vessel_auc_table(internal).assign(set="internal"), 5)
    given.loc[given["vessel"] == "LM", ["auc", "ci_low", "ci_high"]] = np.nan
    given.loc[given["vessel"] == "LM", "withheld"] = "too few events (2)"
    fig = roc_figure({"internal": internal}, aucs=given)
    lm = fig.axes[VESSELS.index("LM")]
    assert [t.get_text() for t in lm.get_legend().get_texts()] == ["internal: too few events (2)"]
    assert all(len(line.get_xdata()) <= 2 for line in lm.lines)  # only the diagonal
    rca = fig.axes[VESSELS.index("RCA")]
    assert any(len(line.get_xdata()) > 2 for line in rca.lines)
    plt.close(fig)
