from __future__ import annotations

import math

import pytest

from xieshang import apr
from xieshang.apr import (
    FLAG_ABOVE_24,
    FLAG_ABOVE_36,
    FLAG_ABOVE_4X_LPR,
    FLAG_SHORT_TERM,
    FLAG_UPFRONT,
    apr_equal_installments,
    apr_from_total,
    explain,
    irr_annual,
)


def _npv(received, payments, r, period_days):
    return -received + sum(a / (1 + r) ** (d / period_days) for d, a in payments)


# ------------------------------------------------------------------------------ fact 3.9 examples


def test_fact_3_9_monthly_fee_example():
    # 10,000 yuan, 12 monthly payments, "monthly fee 0.75% of original principal" (advertised 9%).
    res = apr_equal_installments(10000, 10000 / 12 + 75, 12)
    assert res.nominal == pytest.approx(0.162, abs=0.001)
    assert res.effective == pytest.approx(0.175, abs=0.001)
    assert res.periods_per_year == 12
    assert res.flags == {FLAG_ABOVE_4X_LPR}  # above 12% (4 × 3.0%), below 24%


def test_fact_3_9_upfront_deduction_example():
    # "Borrow 10,000 at 12%" but receive 8,000 and repay 933.33 × 12 → ≈ 67%.
    res = apr_equal_installments(8000, 933.33, 12, principal=10000)
    assert res.nominal == pytest.approx(0.67, abs=0.01)
    assert {FLAG_UPFRONT, FLAG_ABOVE_24, FLAG_ABOVE_36, FLAG_ABOVE_4X_LPR} <= res.flags
    assert res.deduction == pytest.approx(2000)
    # Without the deduction the same payments are about 21.5%.
    assert apr_equal_installments(10000, 933.33, 12).nominal == pytest.approx(0.215, abs=0.001)


def test_daily_rate_0_1_percent_is_36_5_simple():
    res = apr_from_total(10000, 10000 * (1 + 0.001 * 365), 365)
    assert res.nominal == pytest.approx(0.365, abs=1e-9)


# ----------------------------------------------------------------------------------- the solver


def test_solution_zeroes_the_npv():
    payments = [(31, 1200.0), (59, 1200.0), (90, 1200.0), (120, 5000.0)]
    res = irr_annual(8000, payments)
    assert abs(_npv(8000, payments, res.rate_per_period, res.period_days)) < 1e-6


def test_irregular_payments_are_sorted_and_zero_amounts_dropped():
    res = irr_annual(1000, [(60, 550.0), (30, 550.0), (45, 0.0)])
    assert res.payments == ((30, 550.0), (60, 550.0))
    assert res.term_days == 60


def test_zero_interest_is_exactly_zero():
    res = apr_equal_installments(1200, 100, 12)
    assert res.rate_per_period == 0 and res.nominal == 0 and res.effective == 0
    assert res.flags == frozenset()


def test_repaying_less_than_received_gives_negative_rate():
    res = apr_from_total(1000, 900, 30)
    assert res.nominal < 0 and res.effective < 0
    text = explain(res)
    assert "没有利息成本" in text
    assert "-" not in text.split("期限")[0]  # no "多付-100元"


def test_equal_total_and_received_is_not_positive():
    assert irr_annual(1000, [(10, 500), (20, 500)]).nominal == 0


def test_huge_rates_do_not_overflow():
    res = apr_from_total(1, 1e6, 1)
    assert res.nominal > 1e6
    assert math.isinf(res.effective)
    assert "超过10000%" in explain(res)


def test_tiny_payment_far_in_future():
    res = apr_from_total(1000, 1000.01, 3650)
    assert 0 < res.nominal < 1e-5


@pytest.mark.parametrize(
    "received, payments",
    [(0, [(30, 100)]), (-5, [(30, 100)]), (100, []), (100, [(30, 0)]), (100, [(0, 120)]), (100, [(-1, 120)])],
)
def test_invalid_input_raises(received, payments):
    with pytest.raises(ValueError):
        irr_annual(received, payments)


def test_invalid_helpers_raise():
    with pytest.raises(ValueError):
        apr_equal_installments(1000, 100, 0)
    with pytest.raises(ValueError):
        apr_from_total(1000, 1100, 0)
    with pytest.raises(ValueError):
        apr_from_total(1000, 1100, 30, principal=0)


# ------------------------------------------------------------------------------------------- flags


def test_714_flag_and_period_conventions():
    res = apr_from_total(1500, 2000, 7, principal=2000)
    assert FLAG_SHORT_TERM in res.flags and FLAG_UPFRONT in res.flags
    assert res.nominal == pytest.approx((2000 / 1500 - 1) * 365 / 7)
    assert FLAG_SHORT_TERM in apr_from_total(1000, 1010, 14).flags
    assert FLAG_SHORT_TERM not in apr_from_total(1000, 1010, 15).flags
    assert apr_equal_installments(1000, 260, 4, period_days=7).periods_per_year == 52


def test_no_deduction_when_principal_equals_received():
    assert FLAG_UPFRONT not in apr_equal_installments(10000, 900, 12, principal=10000).flags
    assert FLAG_UPFRONT not in apr_equal_installments(10000, 900, 12).flags


def test_4x_lpr_uses_contract_date_lpr_when_given():
    # 13% is above 4 × 3.0% = 12% but below 4 × 3.45% = 13.8% (the LPR of early 2024).
    res_now = apr_from_total(10000, 11300, 365)
    res_old = apr_from_total(10000, 11300, 365, lpr=3.45)
    assert FLAG_ABOVE_4X_LPR in res_now.flags
    assert FLAG_ABOVE_4X_LPR not in res_old.flags
    assert res_now.lpr == apr.current_lpr() == 3.0


def test_thresholds():
    assert apr_from_total(10000, 12400, 365).flags == {FLAG_ABOVE_4X_LPR}  # exactly 24%: not above
    assert apr_from_total(10000, 12500, 365).flags == {FLAG_ABOVE_4X_LPR, FLAG_ABOVE_24}
    assert FLAG_ABOVE_36 in apr_from_total(10000, 13700, 365).flags
    assert FLAG_ABOVE_36 not in apr_from_total(10000, 13600, 365).flags


# ----------------------------------------------------------------------------------------- explain


def test_explain_upfront_example_names_rate_caps_and_channels():
    res = apr_equal_installments(8000, 933.33, 12, principal=10000)
    text = explain(res, platform="速借宝")
    assert "约67.2%" in text and "8,000元" in text and "10,000元" in text and "2,000元" in text
    assert "速借宝" in text
    # caps and who they apply to, with rendered citations
    assert "24%" in text and "第二条" in text  # SPC 2017 opinion art. 2 (fact 3.4)
    assert "12%" in text and "签合同那个月的LPR" in text and "第二十五条" in text  # fact 3.1/3.6
    assert "36%" in text and "非法放贷" in text  # fact 1.39
    assert "第六百七十条" in text  # 砍头息, 民法典 670 (fact 3.7)
    assert "中国人民银行公告〔2021〕第3号" in text  # disclosure (fact 3.8)
    assert "110" in text and "jubao.nifa.org.cn" in text  # where to report (5.6 / 5.4)
    assert "[[" not in text and "{" not in text


def test_explain_714_mentions_short_term_and_police():
    text = explain(apr_from_total(1500, 2000, 7, principal=2000))
    assert "714" in text and "7天" in text and "110" in text
    assert "超过10000%" in text  # effective rate of a 7-day loan at 33%


def test_explain_moderate_rate_points_to_regulators_not_police():
    text = explain(apr_equal_installments(10000, 10000 / 12 + 30, 12), platform="借呗", lender_kind="consumer_finance")
    assert "没有超过24%" in text and "没有超过12%" in text
    assert "12378" in text and "借呗是消费金融公司" in text
    assert "110" not in text


def test_explain_small_loan_kind_line():
    text = explain(apr_equal_installments(10000, 1000, 12), platform="某小贷", lender_kind="small_loan")
    assert "某小贷是小贷公司" in text and "不适用4倍LPR" in text


def test_explain_is_phone_sized():
    text = explain(apr_equal_installments(8000, 933.33, 12, principal=10000), platform="x")
    assert len(text.splitlines()) <= 12
