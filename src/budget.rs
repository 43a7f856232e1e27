//! Spending a paid API's call allowance where it buys the most.
//!
//! A provider sells calls per period (JKT48Connect per UTC calendar month,
//! KonbiniAPI credits per UTC calendar day). The bot must never spend more,
//! and should poll most often in the hours when lives actually start.
//!
//! Polling at rate `r`, a live starting at a random moment waits `1/(2r)` on
//! average. With `λ(t)` the density of live starts, minimizing the mean delay
//! `∫ λ(t)/(2r(t)) dt` subject to `∫ r(t) dt = B` gives **`r(t) ∝ sqrt(λ(t))`**
//! (Lagrange: `λ/(2r²)` is constant). Rates are capped at one poll per
//! `min_interval`; where the cap binds the surplus goes to the other hours
//! (water-filling: the `c` with `Σ_h min(c·sqrt(λ_h), r_max)·L_h = B`).
//!
//! `λ` is a [`LiveProfile`] of 24 UTC hour bins. The plan is recomputed from
//! scratch on every call for the *remaining* budget over the *remaining* time
//! of the period, so it corrects itself after restarts or missed polls. Rates
//! are in calls per second; a poll costs [`BudgetState::cost`] calls.
//! [`may_spend`] is the hard guarantee; [`next_poll`] is the plan.
//!
//! Pure (no I/O, no clock of its own) and below both of its users: a
//! provider's source states its [`Allowance`], `watch`'s ledger plans and
//! spends it; this module depends on neither.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use std::time::Duration;

/// Pseudo-observations the prior counts for in [`LiveProfile::learn`].
pub const PRIOR_WEIGHT: f64 = 48.0;
/// Every learned bin keeps at least this fraction of the uniform weight.
const FLOOR_FRACTION: f64 = 0.02;
const HOUR: f64 = 3600.0;

/// A provider's allowance: calls per calendar month (UTC) or per calendar day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// This many calls per UTC calendar month.
    PerMonth(u64),
    /// This many calls per UTC calendar day.
    PerDay(u64),
}

impl Allowance {
    /// Calls allowed per period.
    pub fn calls(self) -> u64 {
        match self {
            Self::PerMonth(n) | Self::PerDay(n) => n,
        }
    }

    /// The period containing `t`: `[start, end)` — first instant of the UTC
    /// calendar month/day, first instant of the next.
    pub fn period_at(self, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let dates = match self {
            Self::PerMonth(_) => {
                let (y, m) = (t.year(), t.month());
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                NaiveDate::from_ymd_opt(y, m, 1).zip(NaiveDate::from_ymd_opt(ny, nm, 1))
            }
            Self::PerDay(_) => t.date_naive().succ_opt().map(|n| (t.date_naive(), n)),
        };
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
        // Only fails at the ends of chrono's range: an empty period then.
        dates
            .and_then(|(a, b)| Some((midnight(a)?, midnight(b)?)))
            .unwrap_or((t, t))
    }

    /// A stable key for the period containing `t`, for persisting the count:
    /// `"2026-12"` for months, `"2026-12-01"` for days.
    pub fn period_key(self, t: DateTime<Utc>) -> String {
        let format = match self {
            Self::PerMonth(_) => "%Y-%m",
            Self::PerDay(_) => "%Y-%m-%d",
        };
        t.format(format).to_string()
    }

    /// Unit word for humans: `"calls/month"` or `"calls/day"`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::PerMonth(_) => "calls/month",
            Self::PerDay(_) => "calls/day",
        }
    }
}

/// How likely a live is to start in each hour of the day (24 bins, UTC hours),
/// normalized to sum 1.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveProfile {
    weights: [f64; 24],
}

impl LiveProfile {
    /// The prior: Jakarta (WIB = UTC+7, no DST) evenings. Weights per WIB hour:
    /// 00–06 → 0.2, 07–11 → 0.6, 12–17 → 1.0, 18 → 2.5, 19–22 → 4.0, 23 → 1.5,
    /// converted to UTC bins and normalized.
    pub fn prior() -> Self {
        Self::normalized(std::array::from_fn(|utc| match (utc + 7) % 24 {
            0..=6 => 0.2,
            7..=11 => 0.6,
            12..=17 => 1.0,
            18 => 2.5,
            19..=22 => 4.0,
            _ => 1.5,
        }))
    }

    /// Learn from go-live instants the bot has seen: a histogram by UTC hour
    /// blended with the prior as [`PRIOR_WEIGHT`] pseudo-observations,
    /// `w_h = (48·prior_h + count_h) / (48 + n)`; every bin is then floored at
    /// 2 % of the uniform weight and the result renormalized, so night hours
    /// are never left unpolled. `learn(&[])` is exactly the prior.
    pub fn learn(starts: &[DateTime<Utc>]) -> Self {
        let prior = Self::prior();
        if starts.is_empty() {
            return prior;
        }
        let mut counts = [0.0_f64; 24];
        for s in starts {
            counts[s.hour() as usize % 24] += 1.0;
        }
        let n = starts.len() as f64;
        Self::normalized(std::array::from_fn(|h| {
            let w = (PRIOR_WEIGHT * prior.weights[h] + counts[h]) / (PRIOR_WEIGHT + n);
            w.max(FLOOR_FRACTION / 24.0)
        }))
    }

    /// Scale positive weights to sum 1.
    fn normalized(raw: [f64; 24]) -> Self {
        let sum: f64 = raw.iter().sum();
        Self {
            weights: raw.map(|w| w / sum),
        }
    }

    /// Probability mass of bin `utc_hour` (taken modulo 24).
    pub fn weight(&self, utc_hour: u32) -> f64 {
        self.weights[utc_hour as usize % 24]
    }

    /// The hour (UTC) with the highest weight (the earliest on ties), for display.
    pub fn peak_hour(&self) -> u32 {
        let by_weight = |a: &u32, b: &u32| self.weight(*a).total_cmp(&self.weight(*b));
        (0..24).rev().max_by(by_weight).unwrap_or(0)
    }

    /// The hour (UTC) with the lowest weight (the earliest on ties).
    fn quietest_hour(&self) -> u32 {
        let by_weight = |a: &u32, b: &u32| self.weight(*a).total_cmp(&self.weight(*b));
        (0..24).min_by(by_weight).unwrap_or(0)
    }
}

/// What the scheduler knows at a moment.
#[derive(Debug, Clone, Copy)]
pub struct BudgetState {
    /// The provider's allowance.
    pub allowance: Allowance,
    /// Calls already spent in the period containing `now`.
    pub used: u64,
    /// Calls one poll costs (≥ 1; 0 is treated as 1).
    pub cost: u64,
    /// Never poll more often than this (the provider's configured interval).
    pub min_interval: Duration,
}

impl BudgetState {
    fn cost(&self) -> u64 {
        self.cost.max(1)
    }

    fn remaining(&self) -> u64 {
        self.allowance.calls().saturating_sub(self.used)
    }
}

/// The scheduler's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextPoll {
    /// Poll at this instant, never earlier than `now + min_interval` (the first
    /// poll after start-up is the caller's: at once, if [`may_spend`] allows).
    At(DateTime<Utc>),
    /// The allowance is spent (remaining < cost): the next poll is at the start
    /// of the next period.
    Exhausted {
        /// Start of the next period.
        until: DateTime<Utc>,
    },
}

/// The water-filled plan for `[now, end)`.
struct Plan {
    /// Calls per second in each UTC hour bin.
    rates: [f64; 24],
    /// Seconds of `[now, end)` falling in each UTC hour bin.
    lengths: [f64; 24],
    /// Seconds from `now` to `end`.
    total: f64,
    /// Seconds since UTC midnight at `now`.
    day_secs: f64,
    end: DateTime<Utc>,
    /// Calls to spend: the remaining ones, rounded down to whole polls.
    budget: f64,
}

impl Plan {
    /// Plan to spend the remaining budget, in whole polls, by the period end.
    fn new(state: &BudgetState, profile: &LiveProfile, now: DateTime<Utc>) -> Self {
        let (_, end) = state.allowance.period_at(now);
        let nanos = f64::from(now.nanosecond() % 1_000_000_000) / 1e9;
        let day_secs = f64::from(now.num_seconds_from_midnight()) + nanos;
        let total = secs_between(now, end);
        let mut lengths = [0.0; 24];
        segments(day_secs, total, |h, _, len| -> Option<()> {
            lengths[h] += len;
            None
        });
        let cost = state.cost();
        let budget = (state.remaining() / cost * cost) as f64;
        let r_max = cost as f64 / state.min_interval.as_secs_f64(); // +inf for 0
        let rates = water_fill(&profile.weights.map(f64::sqrt), &lengths, budget, r_max);
        Plan {
            rates,
            lengths,
            total,
            day_secs,
            end,
            budget,
        }
    }

    /// Seconds from now until the planned spending reaches `calls`.
    fn walk(&self, calls: f64) -> Option<f64> {
        let mut acc = 0.0;
        segments(self.day_secs, self.total, |h, off, len| {
            let r = self.rates[h];
            if r > 0.0 && acc + r * len >= calls {
                return Some(off + ((calls - acc) / r).max(0.0));
            }
            acc += r * len;
            None
        })
    }
}

/// Visit `(hour bin, offset, length)` for each piece of the `total` seconds
/// starting `day_secs` after a UTC midnight, split at UTC hour boundaries;
/// stop at the first `Some`.
fn segments<T>(
    day_secs: f64,
    total: f64,
    mut f: impl FnMut(usize, f64, f64) -> Option<T>,
) -> Option<T> {
    let mut hour = (day_secs / HOUR) as usize % 24;
    let (mut off, mut piece) = (0.0, HOUR - day_secs % HOUR);
    while off < total {
        let len = piece.min(total - off);
        if let Some(t) = f(hour, off, len) {
            return Some(t);
        }
        (off, hour, piece) = (off + len, (hour + 1) % 24, HOUR);
    }
    None
}

/// Rates `min(c·s_h, r_max)` with `Σ rate_h·L_h = budget` (all `r_max` if even
/// that spends less). Exact, no bisection: cap the bins that overflow, solve
/// for `c` on the rest, repeat (`c` only grows; at most 24 rounds).
fn water_fill(shares: &[f64; 24], lengths: &[f64; 24], budget: f64, r_max: f64) -> [f64; 24] {
    let (mut capped, mut c) = ([false; 24], 0.0);
    for _ in 0..=24 {
        let (mut left, mut denom) = (budget, 0.0);
        for ((&s, &l), &cap) in shares.iter().zip(lengths).zip(&capped) {
            if cap {
                left -= r_max * l;
            } else {
                denom += s * l;
            }
        }
        c = left.max(0.0) / f64::max(denom, f64::MIN_POSITIVE);
        let mut changed = false;
        for ((&s, &l), cap) in shares.iter().zip(lengths).zip(capped.iter_mut()) {
            if !*cap && l > 0.0 && c * s > r_max {
                (*cap, changed) = (true, true);
            }
        }
        if !changed {
            break;
        }
    }
    let rate = |h: usize| if capped[h] { r_max } else { c * shares[h] };
    std::array::from_fn(|h| rate(h).min(r_max))
}

fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    let nanos = b.signed_duration_since(a).num_nanoseconds();
    nanos.map_or(0.0, |n| n as f64 / 1e9).max(0.0)
}

/// `t + secs`, rounded up to the millisecond, saturating.
fn add_secs(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    let ms = (secs * 1000.0).ceil().clamp(0.0, 1e15) as i64;
    t.checked_add_signed(chrono::Duration::milliseconds(ms))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn duration(secs: f64) -> Duration {
    Duration::from_millis((secs * 1000.0).round().max(0.0) as u64)
}

/// When to poll next, given the last poll happened at `now` (already counted
/// in `used`).
///
/// Walks forward over hour bins from `now`, accumulating the water-filled rate
/// for the remaining budget `B` (whole polls) over the remaining period until
/// it reaches `cost·B/(B + cost)` — the `B/cost` planned polls split the rest
/// into equal shares with one share left after the last, so the allowance is
/// spent inside the period. The result is clamped to `≥ now + min_interval`.
/// If the walk reaches the period end first, the answer is the period end (a
/// new allowance starts there; still clamped). If `calls - used < cost`:
/// `Exhausted` until the period end.
pub fn next_poll(state: BudgetState, profile: &LiveProfile, now: DateTime<Utc>) -> NextPoll {
    if state.remaining() < state.cost() {
        let (_, until) = state.allowance.period_at(now);
        return NextPoll::Exhausted { until };
    }
    let plan = Plan::new(&state, profile, now);
    // The plan's n = budget/cost polls cut the rest into n + 1 equal shares, so
    // the last one lands inside the period; the poll at its end is the next's.
    let (cost, budget) = (state.cost() as f64, plan.budget);
    let at = match plan.walk(cost * budget / (budget + cost)) {
        Some(off) => add_secs(now, off).min(plan.end),
        None => plan.end,
    };
    NextPoll::At(at.max(add_secs(now, state.min_interval.as_secs_f64())))
}

/// May a poll be made now? (`used + cost <= calls`). The poll loop calls this
/// before every request: this is the hard guarantee; [`next_poll`] is the plan.
pub fn may_spend(state: BudgetState) -> bool {
    let after = state.used.checked_add(state.cost());
    after.is_some_and(|a| a <= state.allowance.calls())
}

/// A forecast for humans (shown in `onair check` and `/help`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Calls the plan will spend from now to the period end, in whole polls
    /// (≤ remaining; less only when the min-interval cap binds everywhere, or
    /// by the remainder of `remaining / cost`).
    pub planned: u64,
    /// `calls - used - planned`: what is left at the period end under the plan.
    pub projected_balance: u64,
    /// Mean delay from a live starting (distributed by the profile over the
    /// rest of the period) to the next poll: `Σ_h p_h · cost/(2·r_h)`, `p_h` ∝
    /// profile weight × remaining time in hour `h`. Each hour's term is capped
    /// at half the time left to the period end (also the value where the rate
    /// is 0, i.e. the allowance is spent), so the figure stays bounded.
    pub mean_delay: Duration,
    /// The poll interval the plan uses in the profile's busiest hour.
    pub busiest_interval: Duration,
    /// The poll interval the plan uses in the profile's quietest hour. Both
    /// intervals are clamped to `[min_interval, time to period end]`.
    pub quietest_interval: Duration,
}

/// Forecast the rest of the period under the current plan.
pub fn forecast(state: BudgetState, profile: &LiveProfile, now: DateTime<Utc>) -> Forecast {
    let plan = Plan::new(&state, profile, now);
    let (cost, remaining) = (state.cost() as f64, state.remaining());
    let spend: f64 = (0..24).map(|h| plan.rates[h] * plan.lengths[h]).sum();
    let polls = (spend / cost + 1e-6).floor().max(0.0) as u64;
    let planned = polls.saturating_mul(state.cost()).min(remaining);
    let (mut mass, mut delay) = (0.0, 0.0);
    for ((&w, &l), &r) in profile.weights.iter().zip(&plan.lengths).zip(&plan.rates) {
        mass += w * l;
        delay += w * l * (cost / (2.0 * r)).min(plan.total / 2.0);
    }
    let min_gap = state.min_interval.as_secs_f64();
    let interval = |h: u32| {
        let secs = (cost / plan.rates[h as usize]).min(plan.total);
        duration(secs.max(min_gap))
    };
    Forecast {
        planned,
        projected_balance: remaining - planned,
        mean_delay: duration(delay / mass.max(f64::MIN_POSITIVE)),
        busiest_interval: interval(profile.peak_hour()),
        quietest_interval: interval(profile.quietest_hour()),
    }
}

/// The interval a fixed-rate poller spending the same allowance evenly would
/// use (period length × cost / calls, at most the period length), clamped to
/// `≥ min_interval`; for comparisons.
pub fn even_interval(state: BudgetState, now: DateTime<Utc>) -> Duration {
    let (start, end) = state.allowance.period_at(now);
    let period = secs_between(start, end);
    let secs = period * state.cost() as f64 / state.allowance.calls() as f64;
    duration(secs.min(period)).max(state.min_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn st(allowance: Allowance, used: u64, cost: u64, min_secs: u64) -> BudgetState {
        let min_interval = Duration::from_secs(min_secs);
        BudgetState {
            allowance,
            used,
            cost,
            min_interval,
        }
    }

    /// Run the planned poller over the period containing `t`; the poll instants.
    fn simulate(a: Allowance, cost: u64, min_secs: u64, t: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let (profile, (mut now, end)) = (LiveProfile::prior(), a.period_at(t));
        let (mut s, mut polls) = (st(a, 0, cost, min_secs), Vec::new());
        while may_spend(s) {
            s.used += cost;
            polls.push(now);
            match next_poll(s, &profile, now) {
                NextPoll::At(t) if t < end => {
                    assert!(t >= now + chrono::Duration::seconds(min_secs as i64));
                    now = t;
                }
                _ => break,
            }
        }
        assert!(s.used <= a.calls());
        polls
    }

    #[test]
    fn periods_and_keys() {
        let (m, d) = (Allowance::PerMonth(1000), Allowance::PerDay(2880));
        let dec = m.period_at(at(2026, 12, 31, 23, 59));
        assert_eq!(dec, (at(2026, 12, 1, 0, 0), at(2027, 1, 1, 0, 0)));
        assert_eq!(m.period_key(at(2026, 12, 31, 23, 59)), "2026-12");
        let feb = m.period_at(at(2028, 2, 29, 12, 0));
        assert_eq!(feb, (at(2028, 2, 1, 0, 0), at(2028, 3, 1, 0, 0)));
        assert_eq!(m.period_at(at(2026, 3, 1, 0, 0)).0, at(2026, 3, 1, 0, 0));
        let day = d.period_at(at(2026, 12, 31, 23, 59));
        assert_eq!(day, (at(2026, 12, 31, 0, 0), at(2027, 1, 1, 0, 0)));
        assert_eq!(d.period_key(at(2026, 12, 1, 5, 0)), "2026-12-01");
        assert_eq!((m.unit(), d.unit()), ("calls/month", "calls/day"));
    }

    #[test]
    fn prior_and_learning() {
        let p = LiveProfile::prior();
        assert!(((0..24).map(|h| p.weight(h)).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(p.peak_hour(), 12);
        assert!((12..16).all(|h| p.weight(h) == p.weight(12) && p.weight(12) > p.weight(16)));
        assert_eq!(LiveProfile::learn(&[]), p);
        let starts: Vec<_> = (0..500)
            .map(|i| at(2026, 5, 1 + i % 28, 13, i % 60))
            .collect();
        let l = LiveProfile::learn(&starts);
        assert!(l.peak_hour() == 13 && l.weight(13) > 0.9 && l.weight(12) < p.weight(12));
        let l = LiveProfile::learn(&vec![at(2026, 5, 1, 13, 0); 100_000]);
        assert!((0..24).all(|h| l.weight(h) >= 0.9 * 0.02 / 24.0), "{l:?}");
    }

    #[test]
    fn never_overspends_and_spends_nearly_all() {
        let june = at(2026, 6, 10, 0, 0);
        let spent = |a: Allowance, cost, min| simulate(a, cost, min, june).len() as u64 * cost;
        for calls in [1_000, 5_000, 25_000] {
            for cost in [1, 3] {
                let s = spent(Allowance::PerMonth(calls), cost, 10);
                // Never over, and every whole poll of the allowance is used (≥ 95 %).
                assert!(s <= calls && s + cost > calls, "{calls}/{cost}: {s}");
            }
        }
        let s = spent(Allowance::PerDay(2_880), 3, 10);
        assert_eq!(s, 2_880);
    }

    #[test]
    fn min_interval_cap_binds() {
        let (a, june) = (Allowance::PerMonth(1_000_000), at(2026, 6, 1, 0, 0));
        for calls in [1_000_000, 86_400] {
            let polls = simulate(Allowance::PerMonth(calls), 1, 30, june).len();
            assert!((86_390..=86_400).contains(&polls), "{polls}");
        }
        let f = forecast(st(a, 0, 1, 30), &LiveProfile::prior(), june);
        assert!(f.projected_balance > 0 && f.planned == 86_400, "{f:?}");
        assert_eq!(f.busiest_interval, Duration::from_secs(30));
        assert_eq!(f.quietest_interval, f.busiest_interval);
    }

    #[test]
    fn rates_follow_sqrt_of_weights() {
        let (p, june) = (LiveProfile::prior(), at(2026, 6, 1, 0, 0));
        let s = st(Allowance::PerMonth(25_000), 0, 1, 1);
        let f = forecast(s, &p, june);
        let even = even_interval(s, june);
        assert_eq!(even, Duration::from_millis(103_680));
        assert!(f.busiest_interval < even && even < f.quietest_interval);
        assert!(f.planned == 25_000 && f.mean_delay < even / 2, "{f:?}");
        let plan = Plan::new(&s, &p, june);
        let ratio = plan.rates[12] / plan.rates[20];
        assert!((ratio - (p.weight(12) / p.weight(20)).sqrt()).abs() < 1e-9);
        // The walk agrees with each moment's own plan: interval = cost / rate.
        for t in [at(2026, 6, 1, 12, 0), at(2026, 6, 1, 20, 0)] {
            let rate = Plan::new(&s, &p, t).rates[t.hour() as usize];
            let expect = 1000.0 * 25_000.0 / 25_001.0 / rate;
            let NextPoll::At(x) = next_poll(s, &p, t) else {
                panic!()
            };
            assert!(((x - t).num_milliseconds() as f64 - expect).abs() <= 1.0);
        }
    }

    #[test]
    fn exhausted_and_period_end() {
        let (p, now) = (LiveProfile::prior(), at(2026, 12, 20, 8, 30));
        let (a, end) = (Allowance::PerMonth(1_000), at(2027, 1, 1, 0, 0));
        let s = st(a, 998, 3, 60);
        assert!(!may_spend(s) && !may_spend(st(a, u64::MAX, 3, 60)));
        assert_eq!(next_poll(s, &p, now), NextPoll::Exhausted { until: end });
        let f = forecast(s, &p, now);
        assert_eq!((f.planned, f.projected_balance), (0, 2));
        let s = st(a, 997, 3, 60);
        assert!(may_spend(s));
        assert!(matches!(next_poll(s, &p, now), NextPoll::At(t) if t > now && t <= end));
        // Mid-hour, sub-second `now`; the last poll's worth is spent by the period end.
        let now = at(2026, 12, 31, 23, 50) + chrono::Duration::milliseconds(250);
        assert!(matches!(next_poll(s, &p, now), NextPoll::At(t) if t > now && t <= end));
        // Min interval longer than the time left: clamped past the period end.
        let s = st(Allowance::PerMonth(100), 0, 1, 3600);
        let clamped = now + chrono::Duration::seconds(3600);
        assert_eq!(next_poll(s, &p, now), NextPoll::At(clamped));
    }

    /// (median, p90) seconds from each start to the next poll (or the period end).
    fn delays(starts: &[f64], polls: &[f64], end: f64) -> (f64, f64) {
        let next = |s: f64| *polls.get(polls.partition_point(|&p| p < s)).unwrap_or(&end);
        let mut d: Vec<f64> = starts.iter().map(|&s| next(s) - s).collect();
        d.sort_by(f64::total_cmp);
        (d[d.len() / 2], d[d.len() * 9 / 10])
    }

    #[test]
    fn scheduled_beats_even_polling() {
        let (p, june) = (LiveProfile::prior(), at(2026, 6, 1, 0, 0));
        let total = 30.0 * 86_400.0;
        let mut x = 0x9E37_79B9_7F4A_7C15_u64; // xorshift64
        let mut unit = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let starts: Vec<f64> = (0..5_000)
            .map(|_| {
                let (day, mut u) = ((unit() * 30.0).floor(), unit());
                let hour = (0..24).position(|h| {
                    u -= p.weight(h);
                    u < 0.0
                });
                let hour = hour.unwrap_or(23);
                day * 86_400.0 + hour as f64 * HOUR + unit() * HOUR
            })
            .collect();
        for calls in [1_000, 5_000, 25_000] {
            let a = Allowance::PerMonth(calls);
            let sched = simulate(a, 1, 30, june)
                .iter()
                .map(|&t| secs_between(june, t))
                .collect::<Vec<_>>();
            let step = even_interval(st(a, 0, 1, 30), june).as_secs_f64();
            let even: Vec<f64> = (0..calls)
                .map(|k| k as f64 * step)
                .filter(|&t| t < total)
                .collect();
            let (sm, s90) = delays(&starts, &sched, total);
            let (em, e90) = delays(&starts, &even, total);
            assert!(sched.len() as u64 <= calls && even.len() as u64 <= calls);
            assert!(sm <= 0.7 * em, "{calls}: {sm} vs {em}, p90 {s90} vs {e90}");
        }
    }
}
