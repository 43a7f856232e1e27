//! `cargo bench --bench onair_bench`: the real bot against the fake Discord
//! and fake providers on loopback, at full size. Prints a table; exits
//! non-zero if a run loses or duplicates a message.
//!
//! Sizes can be lowered for a quick run: `ONAIR_BENCH_SCALE=0.1`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::bench;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it: stay out of the test run (the smoke test covers it).
    if !std::env::args().any(|a| a == "--bench") {
        println!("onair_bench: run with `cargo bench --bench onair_bench`");
        return;
    }
    let scale: f64 = std::env::var("ONAIR_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |full: usize| ((full as f64 * scale).round() as usize).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("onair benchmark: {cpus} CPUs, scale {scale}, release build, loopback fakes\n");
    let mut failed = false;
    // ONAIR_BENCH_ONLY=budget,fanout,latency,poll,memory,upstream,replicas,identity,fairness runs a subset.
    let only = std::env::var("ONAIR_BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);

    // 0. Provider budget: a simulated month at compressed time.
    if run("budget") {
        println!("0. Budget: a simulated 30-day month of JKT48Connect polling (compressed time, fake JKT48Connect counting calls)");
        println!("   go-lives: 14/day; 60 % 19-23 WIB, 25 % 12-19, 10 % 07-12, 5 % 23-07; 30-120 min each; JKT48CONNECT_POLL_SECS=30");
        println!(
            "   {:>8} | {:>22} | {:>24} | {:>24} | {:>13}",
            "calls/mo",
            "calls used (sched/fixed)",
            "median delay (sched/fixed)",
            "p90 delay (sched/fixed)",
            "missed (s/f)"
        );
        let mut plain_median = Vec::new();
        for allowance in [1_000u64, 5_000, 25_000] {
            let m = rt.block_on(support::budget_sim::month(
                allowance,
                Duration::from_secs(30),
                2026,
            ));
            let s = &m.scheduled;
            let f = &m.fixed;
            let secs = |d: Duration| format!("{:.0} s", d.as_secs_f64());
            let gain =
                1.0 - s.percentile(0.5).as_secs_f64() / f.percentile(0.5).as_secs_f64().max(1e-9);
            println!(
                "   {:>8} | {:>10} / {:<11} | {:>11} / {:<12} | {:>11} / {:<12} | {:>5} / {:<5} median {:.0} % lower{}",
                allowance,
                s.calls,
                f.calls,
                secs(s.percentile(0.5)),
                secs(f.percentile(0.5)),
                secs(s.percentile(0.9)),
                secs(f.percentile(0.9)),
                s.missed,
                f.missed,
                gain * 100.0,
                if s.calls <= allowance { "" } else { "  OVER BUDGET" }
            );
            failed |= s.calls > allowance;
            plain_median.push(s.percentile(0.5));
            if allowance == 25_000 {
                println!(
                    "   target at 25,000: never over budget, median >= 30 % below the fixed {:.0} s poller: {}",
                    m.fixed_interval.as_secs_f64(),
                    if gain >= 0.3 && s.calls <= allowance { "MET" } else { "MISSED" }
                );
            }
        }
        println!();
        println!("   The same month with every calendar feed subscribed (theater reminders 60 and 15 min ahead,");
        println!("   today's shows, birthdays, news, events; shows 19:00 WIB daily and 14:00 on weekends, a news item");
        println!(
            "   every 8 h, an event every 3 days, 48 birthdays over the year), same key for both:"
        );
        println!(
            "   {:>8} | {:>6} | {:>7} | {:>9} | {:>4} | {:>6} | {:>6} | {:>17} | {:>13} | {:>22}",
            "calls/mo",
            "live",
            "theater",
            "birthdays",
            "news",
            "events",
            "total",
            "reminders on time",
            "birthdays",
            "median live delay"
        );
        for (i, allowance) in [1_000u64, 5_000, 25_000].into_iter().enumerate() {
            let c = rt.block_on(support::budget_sim::month_with_calendar(
                allowance,
                Duration::from_secs(30),
                2026,
            ));
            let list = |name: &str| {
                c.lists
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(0, |(_, calls)| *calls)
            };
            let total = c.total_calls();
            println!(
                "   {:>8} | {:>6} | {:>7} | {:>9} | {:>4} | {:>6} | {:>6} | {:>8} / {:<6} | {:>5} / {:<5} | {:>7.0} s → {:>5.0} s{}",
                allowance,
                c.live.calls,
                list("theater"),
                list("birthdays"),
                list("news"),
                list("events"),
                total,
                c.reminders_on_time,
                c.reminders,
                c.birthdays_on_time,
                c.birthdays,
                plain_median.get(i).map_or(0.0, |d| d.as_secs_f64()),
                c.live.percentile(0.5).as_secs_f64(),
                if total <= allowance { "" } else { "  OVER BUDGET" }
            );
            println!(
                "            latest reminder {:.0} s after its moment; target: all within 60 s: {}",
                c.reminder_latest.as_secs_f64(),
                if c.reminders_on_time == c.reminders {
                    "MET"
                } else {
                    "MISSED"
                }
            );
            failed |= total > allowance;
        }
        println!();
    }

    // 1. Fan-out
    if run("fanout") {
        let (channels, r): (usize, usize) = (n(2000), 500);
        let bot_rps = std::env::var("ONAIR_BENCH_BOT_RPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(480);
        let r = std::env::var("ONAIR_BENCH_R")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(r);
        let f = rt.block_on(bench::fanout(channels, r, bot_rps));
        let target = Duration::from_secs_f64(1.1 * channels as f64 / r as f64);
        println!("1. Fan-out: {channels} channels in {channels} guilds, fake limit {r} req/s global + 5 msg/5 s per channel, DISCORD_GLOBAL_RPS={}", f.bot_rps);
        println!(
            "   first announcement {} after the poll that saw the stream, last {}",
            ms(f.first),
            ms(f.last)
        );
        println!(
            "   last - first = {} (target <= 1.1 x N/R = {}) {}",
            ms(f.last - f.first),
            ms(target),
            if f.last - f.first <= target {
                "MET"
            } else {
                "MISSED"
            }
        );
        let pct429 = 100.0 * f.rate_limited as f64 / f.requests.max(1) as f64;
        println!(
        "   achieved rate {:.2} x R; 429 answers {} of {} requests ({pct429:.2} %, target <= 1 %) {}",
        f.achieved_rate,
        f.rate_limited,
        f.requests,
        if pct429 <= 1.0 { "MET" } else { "MISSED" }
    );
        println!("   duplicates {}, missing {}", f.duplicates, f.missing);
        failed |= f.duplicates > 0 || f.missing > 0;
    }

    // 2. Command latency
    if run("latency") {
        let count = n(1000);
        let l = rt.block_on(bench::command_latency(count, 100, 50));
        println!("\n2. /live latency: {count} interactions at 100/s, 50 streams in the snapshot (gateway frame out -> callback in)");
        println!(
        "   p50 {}, p99 {} (target < 20 ms) {}, max {}; provider calls during the run: {} (target 0)",
        ms(l.p50),
        ms(l.p99),
        if l.p99 < Duration::from_millis(20) { "MET" } else { "MISSED" },
        ms(l.max),
        l.upstream_calls
    );
        failed |= l.count != count;
    }

    // 3. Poll-to-post
    if run("poll") {
        let p = rt.block_on(bench::poll_to_post(5, 3));
        let worst = p.rounds.iter().max().copied().unwrap_or_default();
        println!("\n3. Poll-to-post at POLL_INTERVAL_SECS=5, {} rounds changing at different points of the cycle", p.rounds.len());
        println!(
            "   {} ; worst {} (target < interval + 200 ms = 5200 ms) {}",
            p.rounds
                .iter()
                .map(|d| ms(*d))
                .collect::<Vec<_>>()
                .join(", "),
            ms(worst),
            if worst < Duration::from_millis(5200) {
                "MET"
            } else {
                "MISSED"
            }
        );
    }

    // 4. Memory
    if run("memory") {
        let small = rt.block_on(bench::memory(1, 1));
        let big = rt.block_on(bench::memory(n(10_000), n(10_000)));
        println!("\n4. Resident memory of the onair binary (VmRSS)");
        println!(
            "   1 guild: {:.1} MB (target < 40 MB) {}",
            small.rss_kib as f64 / 1024.0,
            if small.rss_kib < 40 * 1024 {
                "MET"
            } else {
                "MISSED"
            }
        );
        println!(
            "   {} guilds by GUILD_CREATE + {} subscriptions: {:.1} MB (target < 120 MB) {}",
            big.guilds,
            big.subscriptions,
            big.rss_kib as f64 / 1024.0,
            if big.rss_kib < 120 * 1024 {
                "MET"
            } else {
                "MISSED"
            }
        );
    }

    // 5. Upstream cost
    if run("upstream") {
        println!("\n5. Upstream requests per poll (POLL_INTERVAL_SECS=1, 5 s window)");
        for (subs, tiktok) in [(1, 0), (100, 0), (n(10_000), 0), (n(10_000), n(500))] {
            let u = rt.block_on(bench::upstream_cost(subs, tiktok, Duration::from_secs(5)));
            println!(
            "   {:>6} subscriptions, {:>3} TikTok usernames: JKT48Connect {:.2}/poll ({} requests in {:.0} intervals), KonbiniAPI {:.1}/poll",
            u.subscriptions, u.tiktok_users, u.jkt_per_poll, u.jkt_requests, u.intervals, u.konbini_per_poll
        );
        }
    }

    // 7. Posting as the member: webhooks under their own budget.
    if run("identity") {
        // By default Discord's real 50 req/s (per token, and per IP for
        // webhooks) with the bot's default caps of 40: what the second
        // budget buys shows where the limit binds. ONAIR_BENCH_IDENTITY_R /
        // _RPS change them.
        let env_or = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let (channels, r) = (n(2000), env_or("ONAIR_BENCH_IDENTITY_R", 50));
        let rps = env_or("ONAIR_BENCH_IDENTITY_RPS", 40) as u32;
        let bot_only = rt.block_on(support::bench_identity::fanout(channels, 0.0, r, rps));
        let half = rt.block_on(support::bench_identity::fanout(channels, 0.5, r, rps));
        println!("\n7. Identity: one go-live to {channels} channels (one guild each), fake limit {r} req/s for the bot token + {r} req/s per IP for webhooks + 5 msg/5 s per channel, DISCORD_GLOBAL_RPS={rps}, DISCORD_WEBHOOK_RPS={rps}");
        println!(
            "   {:<28} | {:>24} | {:>16} | {:>8} | {:>6} | {:>8}",
            "setup", "1st go-live (makes hooks)", "2nd go-live", "429s", "hooks", "dup/miss"
        );
        for (name, f) in [("bot posts only", &bot_only), ("half as the member", &half)] {
            println!(
                "   {:<28} | {:>24} | {:>16} | {:>8} | {:>6} | {:>3} / {:<3}",
                name,
                ms(f.first_live),
                ms(f.second_live),
                f.rate_limited,
                f.webhooks,
                f.duplicates,
                f.missing
            );
            failed |= f.duplicates > 0 || f.missing > 0;
        }
    }

    // 8. Fair shares: one big server and many small ones in one go-live.
    if run("fairness") {
        let (big, small, r, rps) = (n(1000), n(200), 50, 40);
        println!("\n8. Fair shares: one go-live, 1 server with {big} channels (subscribed first) + {small} servers with 1 channel, fake limit {r} req/s + 5 msg/5 s per channel, DISCORD_GLOBAL_RPS={rps}");
        println!(
            "   {:<26} | {:>34} | {:>12} | {:>6} | {:>8}",
            "order", "small servers' post p50 / p99 / max", "whole fan-out", "429s", "dup/miss"
        );
        let mut totals = Vec::new();
        for fair in [false, true] {
            let f = rt.block_on(support::bench_fairness::fairness(big, small, r, rps, fair));
            println!(
                "   {:<26} | {:>10} / {:>10} / {:>10} | {:>12} | {:>6} | {:>3} / {:<3}",
                if fair {
                    "round-robin by server"
                } else {
                    "subscription order"
                },
                ms(f.small_p50),
                ms(f.small_p99),
                ms(f.small_max),
                ms(f.total),
                f.rate_limited,
                f.duplicates,
                f.missing
            );
            failed |= f.duplicates > 0 || f.missing > 0;
            totals.push(f.total);
        }
        if let [before, after] = totals[..] {
            let grew = after.as_secs_f64() > before.as_secs_f64() * 1.05 + 0.5;
            println!(
                "   whole fan-out {} with the round-robin (target: does not grow) {}",
                ms(after),
                if grew { "MISSED" } else { "MET" }
            );
        }
    }

    // 6. Replicas on PostgreSQL against one process on SQLite.
    if run("replicas") {
        let (channels, r) = (n(2000), 500);
        let bot_rps = 480;
        // A PostgreSQL server: the tests' (ONAIR_TEST_POSTGRES_URL), or a
        // throwaway cluster started here as .ci/run does.
        let mut own_cluster = None;
        if support::pg::server_url("the replicas benchmark").is_none() {
            let dir = std::env::temp_dir().join(format!("onair-bench-pg-{}", std::process::id()));
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres");
            let out = std::process::Command::new("bash")
                .args([script, "start", &dir.display().to_string()])
                .output()
                .expect("run .ci/postgres");
            let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                out.status.success() && !url.is_empty(),
                "could not start PostgreSQL"
            );
            std::env::set_var(support::pg::VAR, url);
            own_cluster = Some((script, dir));
        }
        let db = rt
            .block_on(support::pg::fresh_database("bench_replicas"))
            .expect("a PostgreSQL database");
        let pg = rt.block_on(support::bench_replicas::fanout(
            channels,
            r,
            bot_rps,
            Some(db.url.clone()),
        ));
        drop(db);
        let lite = rt.block_on(support::bench_replicas::fanout(channels, r, bot_rps, None));
        println!("\n6. Replicas: fan-out to {channels} channels (one guild each, 6 shards), fake limit {r} req/s + 5 msg/5 s per channel, DISCORD_GLOBAL_RPS={bot_rps}");
        println!(
            "   {:<34} | {:>10} | {:>13} | {:>15} | {:>10} | {:>22}",
            "setup", "spread", "rate (x R)", "429s", "dup/miss", "RSS per process"
        );
        for (name, f) in [
            ("3 replicas x 2 shards, PostgreSQL", &pg),
            ("1 process, SQLite", &lite),
        ] {
            let pct = 100.0 * f.rate_limited as f64 / f.requests.max(1) as f64;
            println!(
                "   {:<34} | {:>10} | {:>6.2} {:<6} | {:>4} ({:.2} %) {:<3} | {:>4} / {:<3} | {}",
                name,
                ms(f.spread),
                f.achieved_rate,
                if f.achieved_rate >= 0.9 {
                    "MET"
                } else {
                    "MISSED"
                },
                f.rate_limited,
                pct,
                if pct <= 1.0 { "MET" } else { "MISSED" },
                f.duplicates,
                f.missing,
                f.rss_kib
                    .iter()
                    .map(|k| format!("{:.1} MB", *k as f64 / 1024.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            failed |= f.duplicates > 0 || f.missing > 0;
        }
        match pg.failover {
            Some(d) => println!(
                "   failover: leader SIGKILLed mid-fan-out -> first post by the new leader {} (lock retry <= 1 s + 2 s handover + first poll); duplicates {}",
                ms(d),
                pg.duplicates
            ),
            None => println!("   failover: no post after the kill"),
        }
        if let Some((script, dir)) = own_cluster {
            let _ = std::process::Command::new("bash")
                .args([script, "stop", &dir.display().to_string()])
                .status();
        }
    }

    if failed {
        eprintln!("\nFAILED: a run lost or duplicated a message");
        std::process::exit(1);
    }
}
