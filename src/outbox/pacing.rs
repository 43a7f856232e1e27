//! A request budget: a token bucket under one of Discord's global limits,
//! and a pause every request of that budget honours (a global 429, or the
//! invalid-request guard). The bot's own requests and webhook executions
//! (no `Authorization`: Discord counts them per IP) have one each.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub struct Budget {
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
    /// Turns are handed out in the order they were asked for: the rate
    /// limiter alone lets a late waiter win a token again and again while
    /// an earlier one starves (which broke the fan-out's round-robin by
    /// server: a server's first post, taken early, went out late).
    line: tokio::sync::Mutex<()>,
}

impl Budget {
    /// `rps` requests per second. A burst of 20 ms worth of requests:
    /// enough to absorb timer granularity (a 1 ms timer cannot space 480/s
    /// = 2.08 ms apart, and rounds up to 3 ms = 333/s), small enough that
    /// rate + burst stays under Discord's window.
    pub fn per_second(rps: u32) -> Self {
        let rps = NonZeroU32::new(rps.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rps.get() / 50).unwrap_or(NonZeroU32::MIN);
        Budget {
            limiter: RateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
            paused_until: Mutex::new(None),
            line: tokio::sync::Mutex::new(()),
        }
    }

    /// Wait out any pause, then for a token, in the order the turns were
    /// asked for (the line is a fair, first-come first-served lock).
    pub async fn turn(&self) {
        let _in_line = self.line.lock().await;
        loop {
            let pause = *lock(&self.paused_until);
            match pause {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(until.into()).await;
                }
                _ => break,
            }
        }
        self.limiter.until_ready().await;
    }

    /// Every request of this budget waits until `until` (the later of two
    /// pauses wins).
    pub fn pause_until(&self, until: Instant) {
        let mut p = lock(&self.paused_until);
        *p = Some(p.map_or(until, |cur| cur.max(until)));
    }

    pub fn pause(&self, wait: Duration) {
        self.pause_until(Instant::now() + wait);
    }
}

/// The process's two request budgets, shared by the announcer and the
/// commands that post into channels (`/subscription test`), so everything
/// the bot posts is paced under one global limit and honours one pause.
pub struct Pacing {
    /// The bot's own requests (`DISCORD_GLOBAL_RPS`).
    pub bot: Budget,
    /// Webhook executions and edits (`DISCORD_WEBHOOK_RPS`).
    pub hooks: Budget,
}

impl Pacing {
    pub fn new(global_rps: u32, webhook_rps: u32) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Pacing {
            bot: Budget::per_second(global_rps),
            hooks: Budget::per_second(webhook_rps),
        })
    }
}

impl std::fmt::Debug for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pacing")
    }
}

/// `a` and `b` merged, each kept in order, spread evenly through each
/// other (1,000 of each alternate; 10 among 1,000 come every 100th).
pub fn interleave<T>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    let (na, nb) = (a.len(), b.len());
    let mut out = Vec::with_capacity(na + nb);
    let (mut ia, mut ib) = (a.into_iter(), b.into_iter());
    let (mut ta, mut tb) = (0usize, 0usize);
    while ta < na || tb < nb {
        // Take from the list that is behind its share of the output.
        let a_next = tb >= nb || (ta < na && ta * nb <= tb * na);
        if a_next {
            out.extend(ia.next());
            ta += 1;
        } else {
            out.extend(ib.next());
            tb += 1;
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lanes_alternate_in_proportion() {
        assert_eq!(
            interleave(vec![1, 2, 3], vec![10, 20, 30]),
            [1, 10, 2, 20, 3, 30]
        );
        assert_eq!(interleave(vec![1, 2, 3, 4], vec![10]), [1, 10, 2, 3, 4]);
        assert_eq!(interleave(Vec::<u8>::new(), vec![1, 2]), [1, 2]);
        let mixed = interleave((0..1000).collect(), (1000..1010).collect());
        assert_eq!(mixed.len(), 1010);
        let first_b = mixed.iter().position(|x| *x >= 1000).unwrap();
        assert!(first_b <= 1, "the small lane starts at once");
        let gaps: Vec<usize> = mixed
            .iter()
            .enumerate()
            .filter(|(_, x)| **x >= 1000)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        assert!(gaps.iter().all(|g| (100..=102).contains(g)), "{gaps:?}");
    }

    /// Many waiters at once get their turns in the order they asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_are_granted_first_come_first_served() {
        let b = std::sync::Arc::new(Budget::per_second(200));
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (b, order) = (b.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.turn().await;
                lock(&order).push(i);
            }));
            // Asked in this order.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let got = lock(&order).clone();
        assert_eq!(got, (0..40).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_pause_holds_every_turn_and_the_later_one_wins() {
        let b = Budget::per_second(1_000);
        let t0 = Instant::now();
        b.pause(Duration::from_millis(200));
        b.pause(Duration::from_millis(50));
        b.turn().await;
        assert!(t0.elapsed() >= Duration::from_millis(200));
    }
}
