from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flb_pipeline.core import risk
from flb_pipeline.core.records import ExchangeState, MaintenanceWindow
from flb_pipeline.core.risk import RiskEvent, RiskLimits

D = Decimal
NOW = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # 15:00 in New York
LIMITS = RiskLimits()


def test_daily_loss_trips_at_the_smaller_limit_and_pauses_to_ny_midnight():
    small = risk.daily_loss(D("-250"), D(5_000), NOW, LIMITS, [])
    assert not small.passed and small.threshold == -250.0
    assert small.paused_until == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert risk.daily_loss(D("-249.99"), D(5_000), NOW, LIMITS, []).passed
    big = risk.daily_loss(D("-499"), D(100_000), NOW, LIMITS, [])
    assert big.passed and big.threshold == -500.0


def test_daily_loss_pause_holds_after_recovery_until_the_next_day():
    trip = RiskEvent(NOW - timedelta(hours=1), risk.DAILY_LOSS, risk.TRIP, NOW + timedelta(hours=9))
    assert not risk.daily_loss(D(10), D(5_000), NOW, LIMITS, [trip]).passed
    tomorrow = NOW + timedelta(hours=10)
    assert risk.daily_loss(D(10), D(5_000), tomorrow, LIMITS, [trip]).passed
    reset = RiskEvent(NOW - timedelta(minutes=5), risk.DAILY_LOSS, risk.RESET)
    assert risk.daily_loss(D(10), D(5_000), NOW, LIMITS, [trip, reset]).passed


def test_daily_loss_fails_closed_without_capital():
    verdict = risk.daily_loss(None, None, NOW, LIMITS, [])
    assert not verdict.passed and "failing closed" in verdict.reason


def test_loss_streak_pauses_four_hours_from_the_latest_loss():
    losses = [(NOW - timedelta(minutes=m), D("-1")) for m in (10, 20, 30, 40, 50)]
    verdict = risk.loss_streak(losses, NOW, LIMITS, [])
    assert not verdict.passed
    assert verdict.paused_until == NOW - timedelta(minutes=10) + timedelta(hours=4)
    assert risk.loss_streak(losses, verdict.paused_until, LIMITS, []).passed
    one_win = [*losses[:4], (NOW - timedelta(hours=1), D("0.5"))]
    assert risk.loss_streak(one_win, NOW, LIMITS, []).passed
    assert risk.loss_streak(losses[:4], NOW, LIMITS, []).passed


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 29, hour, minute, tzinfo=UTC)


def test_a_win_during_the_loss_streak_pause_does_not_lift_it():
    """Five losses, the newest at 19:00, then a win at 19:30: still paused at 20:00 and
    until 23:00, as recorded when the streak tripped."""
    losses = [(at(19, 0) - timedelta(minutes=10 * k), D("-1")) for k in range(5)]
    tripped = risk.loss_streak(losses, at(19, 5), LIMITS, [])
    trip = risk.transition([], tripped, at(19, 5))
    assert trip.kind == risk.TRIP and trip.paused_until == at(23)
    with_win = [(at(19, 30), D("2")), *losses[:4]]
    still = risk.loss_streak(with_win, at(20), LIMITS, [trip])
    assert not still.passed and still.paused_until == at(23)
    assert risk.transition([trip], still, at(20)) is None  # the same pause: nothing new
    lifted = risk.loss_streak(with_win, at(23), LIMITS, [trip])
    assert lifted.passed


def test_the_losses_that_made_a_pause_are_spent_after_it():
    losses = [(at(19, 0) - timedelta(minutes=10 * k), D("-1")) for k in range(5)]
    trip = risk.transition([], risk.loss_streak(losses, at(19, 5), LIMITS, []), at(19, 5))
    after = risk.loss_streak([(at(23, 30), D("-1")), *losses[:4]], at(23, 31), LIMITS, [trip])
    assert after.passed and after.value == 1  # one new loss, not a sixth in a row
    five_more = [(at(23, 30) + timedelta(minutes=k), D("-1")) for k in range(5)][::-1]
    again = risk.loss_streak(five_more, at(23, 40), LIMITS, [trip])
    assert not again.passed and again.paused_until == at(23, 34) + timedelta(hours=4)


def test_checks_on_an_empty_store_say_so_plainly():
    assert risk.loss_streak([], NOW, LIMITS, []).reason == "no closed trades since the last pause"
    assert risk.no_fills([], LIMITS).reason == "no scan has sent orders since the last reset"
    assert risk.slippage([], LIMITS).reason == "0 of the 10 fills it needs since the last reset"
    assert risk.stale_book(None, NOW, LIMITS).value is None


def test_slippage_needs_ten_fills_and_uses_the_median():
    assert risk.slippage([500.0] * 9, LIMITS).passed
    verdict = risk.slippage([100.0] * 6 + [0.0] * 4, LIMITS)
    assert not verdict.passed and verdict.value == 100.0
    assert risk.slippage([100.0] * 5 + [0.0] * 5, LIMITS).passed


def test_error_burst_more_than_ten():
    assert risk.error_burst(10, LIMITS).passed
    assert not risk.error_burst(11, LIMITS).passed
    assert not risk.error_burst(None, LIMITS).passed


def test_stale_book_thirty_seconds():
    assert risk.stale_book(NOW - timedelta(seconds=30), NOW, LIMITS).passed
    stale = risk.stale_book(NOW - timedelta(seconds=31), NOW, LIMITS)
    assert not stale.passed and stale.value == 31.0
    assert risk.stale_book(None, NOW, LIMITS).passed


def test_no_fills_after_twenty_ordering_scans_without_a_fill():
    assert risk.no_fills([0] * 19, LIMITS).passed
    assert not risk.no_fills([0] * 20, LIMITS).passed
    assert risk.no_fills([0] * 19 + [3], LIMITS).passed


def test_correlation_breach_and_exposure_limits():
    assert risk.correlation_breach({"g": D(1500)}, D(10_000), LIMITS).passed
    breach = risk.correlation_breach({"g": D(1500.01), "h": D(1)}, D(10_000), LIMITS)
    assert not breach.passed and "g" in breach.reason
    assert not risk.correlation_breach({}, None, LIMITS).passed
    assert risk.exposure_limits(D(2000), {"t": D(500)}, D(10_000), LIMITS).passed
    assert not risk.exposure_limits(D(2000.5), {"t": D(1)}, D(10_000), LIMITS).passed
    assert not risk.exposure_limits(D(600), {"t": D(500.5)}, D(10_000), LIMITS).passed


def test_manual_halt_is_a_check_of_its_own_until_resumed():
    halt = RiskEvent(NOW - timedelta(hours=1), risk.MANUAL_HALT, risk.HALT, reason="fed day")
    halted = risk.manual_halt(risk.active_halt([halt]))
    assert not halted.passed and halted.check == risk.MANUAL_HALT and "fed day" in halted.reason
    resume = RiskEvent(NOW, risk.MANUAL_HALT, risk.RESUME)
    assert risk.active_halt([halt, resume]) is None
    assert risk.manual_halt(None).passed


def test_entry_gate_reads_the_halt_and_the_age_of_each_order_quote():
    limit = timedelta(seconds=30)
    assert risk.entry_gate(None, NOW - timedelta(seconds=30), NOW, limit) is None
    stale = risk.entry_gate(None, NOW - timedelta(seconds=75), NOW, limit)
    assert stale == "its quote is 75.0s old, older than 30s"
    assert risk.entry_gate(None, None, NOW, limit) is not None
    halt = RiskEvent(NOW, risk.MANUAL_HALT, risk.HALT, reason="fed day")
    assert "fed day" in risk.entry_gate(halt, NOW, NOW, limit)


def test_scan_gate_needs_every_quality_check_recorded_and_passed():
    required = ("no_crossed_books", "complete_records")
    clean = {"no_crossed_books": (True, ""), "complete_records": (True, "")}
    assert risk.scan_gate(clean, required) is None
    crossed = {**clean, "no_crossed_books": (False, "15 market(s) with a crossed book")}
    assert risk.scan_gate(crossed, required) == (
        "it failed its quality checks: no_crossed_books (15 market(s) with a crossed book)"
    )
    assert "never recorded" in risk.scan_gate({}, required)


def verdict(check, passed, paused_until=None):
    return risk.Verdict(check, passed, None, None, paused_until, "why")


def test_transitions_trip_reset_and_extend_a_pause():
    day1_end = NOW + timedelta(hours=9)
    trip = risk.transition([], verdict(risk.DAILY_LOSS, False, day1_end), NOW)
    assert trip.kind == risk.TRIP and trip.paused_until == day1_end
    assert risk.transition([trip], verdict(risk.DAILY_LOSS, False, day1_end), NOW) is None
    day2_end = day1_end + timedelta(days=1)
    later = NOW + timedelta(days=1)
    again = risk.transition([trip], verdict(risk.DAILY_LOSS, False, day2_end), later)
    assert again.kind == risk.TRIP and again.paused_until == day2_end
    # with the second trip recorded, the pause holds through day 2 even if P&L recovers
    assert risk.daily_loss(D(10), D(5_000), later, LIMITS, [trip, again]).passed is False
    reset = risk.transition([trip, again], verdict(risk.DAILY_LOSS, True), day2_end)
    assert reset.kind == risk.RESET
    assert risk.transition([trip, again, reset], verdict(risk.DAILY_LOSS, True), day2_end) is None


def test_a_switch_without_pauses_trips_once_while_failing():
    trip = risk.transition([], verdict(risk.ERROR_BURST, False), NOW)
    assert trip.kind == risk.TRIP
    assert risk.transition([trip], verdict(risk.ERROR_BURST, False), NOW) is None


def test_order_gate_needs_every_check_passed_and_fresh():
    fresh = {name: (True, NOW) for name in risk.BLOCKING_CHECKS}
    assert risk.order_gate(fresh, NOW + timedelta(seconds=5), timedelta(seconds=30)) is None
    partial = {name: v for name, v in fresh.items() if name != risk.SLIPPAGE}
    assert "missing checks ['slippage']" in risk.order_gate(partial, NOW, timedelta(seconds=30))
    failing = {**fresh, risk.NO_FILLS: (False, NOW)}
    assert "failed checks ['no_fills']" in risk.order_gate(failing, NOW, timedelta(seconds=30))
    stale = risk.order_gate(fresh, NOW + timedelta(seconds=31), timedelta(seconds=30))
    assert stale is not None and "31s old" in stale
    halted = {**fresh, risk.MANUAL_HALT: (False, NOW)}
    assert "failed checks ['manual_halt']" in risk.order_gate(halted, NOW, timedelta(seconds=30))


def test_exposure_limits_reports_the_figure_that_failed():
    position = risk.exposure_limits(D(600), {"t": D(501)}, D(10_000), LIMITS)
    assert not position.passed and (position.value, position.threshold) == (0.0501, 0.05)
    total = risk.exposure_limits(D(2500), {"t": D(501)}, D(10_000), LIMITS)
    assert (total.value, total.threshold) == (0.25, 0.2)


def test_exchange_pause_blocks_entries_in_and_just_before_maintenance():
    open_exchange = ExchangeState(exchange_active=True, trading_active=True)
    thursday = MaintenanceWindow(NOW + timedelta(minutes=1), NOW + timedelta(hours=2))
    assert risk.exchange_pause(open_exchange, [], NOW, LIMITS).passed
    soon = risk.exchange_pause(open_exchange, [thursday], NOW, LIMITS)
    assert not soon.passed and soon.paused_until == thursday.end
    later = MaintenanceWindow(NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    assert risk.exchange_pause(open_exchange, [later], NOW, LIMITS).passed
    paused = ExchangeState(True, False, NOW + timedelta(minutes=30))
    verdict = risk.exchange_pause(paused, [], NOW, LIMITS)
    assert not verdict.passed and "paused on the exchange until" in verdict.reason
    assert not risk.exchange_pause(None, [], NOW, LIMITS).passed
