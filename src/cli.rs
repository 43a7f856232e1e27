//! The terminal side: `onair live` and `onair check`, without Discord.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::discord::invite;
use crate::discord::rest::DiscordRest;
use std::sync::Arc;

use crate::http::Http;
use crate::live::{LiveStream, Platform};
use crate::providers::source::{LiveSource, Usernames};
use crate::providers::{ProviderError, ProviderName};
use crate::store::Store;
use crate::types::Providers;
use crate::watch::ledger::{Ledger, Reservation};
use crate::watch::snapshot::sort_streams;

/// Process exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_PROVIDER: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;

/// Options of `onair live`.
#[derive(Debug, Clone, Default)]
pub struct LiveArgs {
    pub platform: Option<Platform>,
    pub json: bool,
    pub tiktok: Vec<String>,
}

/// Everything live across the given sources, plus the failures.
pub async fn collect_live(
    sources: &[Arc<dyn LiveSource>],
) -> (Vec<LiveStream>, Vec<ProviderError>) {
    let results = futures::future::join_all(sources.iter().map(|s| s.fetch())).await;
    let mut streams = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(v) => streams.extend(v),
            Err(e) => errors.push(e),
        }
    }
    sort_streams(&mut streams);
    (streams, errors)
}

/// The bot's store, where the budgets are counted; a note when it cannot
/// be opened (the calls are then counted for this run only).
async fn open_store(config: &Config) -> (Option<Arc<dyn Store>>, Option<String>) {
    match crate::store::connect(config.database_url.expose()).await {
        Ok(s) => (Some(s), None),
        Err(e) => (
            None,
            Some(format!(
                "store unavailable, calls not counted in the budgets: {e}"
            )),
        ),
    }
}

/// A terminal call of a source, spent from the bot's ledger first (a
/// terminal call costs the operator as much as a poll).
struct Spent {
    /// The ledger, for the budget report; `None` when it could not be read.
    ledger: Option<Ledger>,
    /// `Err(until)`: the allowance is spent until then; do not call.
    go: Result<(), DateTime<Utc>>,
    /// Why the call goes ahead uncounted, if it does.
    note: Option<String>,
}

async fn spend_call(source: &dyn LiveSource, store: Option<Arc<dyn Store>>, cost: u64) -> Spent {
    match Ledger::open(source, store, Utc::now()).await {
        Ok(ledger) => {
            let go = match ledger.reserve(cost, Utc::now()).await {
                Reservation::Go => Ok(()),
                Reservation::Exhausted { until } => Err(until),
            };
            Spent {
                ledger: Some(ledger),
                go,
                note: None,
            }
        }
        Err(e) => Spent {
            ledger: None,
            go: Ok(()),
            note: Some(format!(
                "{}: call not counted in the budget ({e})",
                source.name()
            )),
        },
    }
}

/// The sources whose allowance still has this call in it (each call
/// counted), and notes for the ones skipped or not counted.
async fn within_budget(
    config: &Config,
    sources: Vec<Arc<dyn LiveSource>>,
) -> (Vec<Arc<dyn LiveSource>>, Vec<String>) {
    if sources.iter().all(|s| s.schedule().allowance.is_none()) {
        return (sources, Vec::new());
    }
    let (store, note) = open_store(config).await;
    let mut notes: Vec<String> = note.into_iter().collect();
    let mut kept = Vec::new();
    for source in sources {
        if source.schedule().allowance.is_some() {
            let cost = source.cost().await;
            let spent = spend_call(source.as_ref(), store.clone(), cost).await;
            notes.extend(spent.note);
            if let Err(until) = spent.go {
                notes.push(format!(
                    "{}: skipped, its allowance is spent until {}",
                    source.name(),
                    until.format("%Y-%m-%d %H:%M UTC")
                ));
                continue;
            }
        }
        kept.push(source);
    }
    (kept, notes)
}

/// `onair live`: print who is live now as a table or JSON. Returns the exit code.
pub async fn live(
    config: &Config,
    args: &LiveArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> i32 {
    if config.jkt48connect.is_none() && config.realtimekit.is_none() && config.konbini.is_none() {
        let _ = writeln!(
            err,
            "onair live: no provider is configured: set JKT48CONNECT_API_KEY, CLOUDFLARE_API_TOKEN (with CLOUDFLARE_ACCOUNT_ID and REALTIMEKIT_APP_ID) or KONBINI_API_KEY (with --tiktok USER)"
        );
        return EXIT_CONFIG;
    }
    if !args.tiktok.is_empty() && config.konbini.is_none() {
        let _ = writeln!(err, "onair live: --tiktok needs KONBINI_API_KEY");
        return EXIT_CONFIG;
    }
    let providers = Providers::from_config(config, &Http::shared());
    let sources = providers.sources(config, Usernames::Fixed(args.tiktok.clone()));
    let (sources, notes) = within_budget(config, sources).await;
    for n in notes {
        let _ = writeln!(err, "warning: {n}");
    }
    let (mut streams, errors) = collect_live(&sources).await;
    if let Some(p) = args.platform {
        streams.retain(|s| s.platform == p);
    }
    let written = if args.json {
        serde_json::to_string_pretty(&streams)
            .map_err(std::io::Error::other)
            .and_then(|s| writeln!(out, "{s}"))
    } else {
        write_table(&streams, Utc::now(), out)
    };
    if let Err(e) = written {
        let _ = writeln!(err, "onair live: could not write output: {e}");
        return EXIT_PROVIDER;
    }
    for e in &errors {
        let _ = writeln!(err, "warning: {e}");
    }
    if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROVIDER
    }
}

/// A readable table: name, platform, started, viewers, HLS URL.
pub fn write_table(
    streams: &[LiveStream],
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if streams.is_empty() {
        return writeln!(out, "Nobody is live right now.");
    }
    let rows: Vec<[String; 5]> = streams
        .iter()
        .map(|s| {
            [
                one_line(&s.name),
                s.platform.display_name().to_string(),
                s.started_at
                    .map(|t| {
                        let ago = (now - t).to_std().unwrap_or_default();
                        format!(
                            "{} ({} ago)",
                            t.format("%Y-%m-%d %H:%M UTC"),
                            crate::messages::human_duration(crate::messages::Lang::En, ago)
                        )
                    })
                    .unwrap_or_else(|| "-".into()),
                s.viewers
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                s.hls()
                    .next()
                    .map(|u| u.url.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["NAME", "PLATFORM", "STARTED", "VIEWERS", "HLS"];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 4 {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]))?;
    }
    writeln!(out, "\n{} live", streams.len())
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `onair check`: reach every configured provider once and report, with
/// each metered provider's budget (the probe's call is counted in it).
pub async fn check(config: &Config, out: &mut impl Write) -> i32 {
    let providers = Providers::from_config(config, &Http::shared());
    let (store, note) = open_store(config).await;
    if let Some(n) = note {
        let _ = writeln!(out, "({n})");
    }
    let usernames = match &store {
        Some(s) => Usernames::Subscribed(Arc::clone(s)),
        None => Usernames::Fixed(Vec::new()),
    };
    let sources = providers.sources(config, usernames);
    let mut failed = false;
    let mut report = |name: ProviderName, result: Option<Result<String, ProviderError>>| {
        let line = match result {
            None => format!("{:<24} off", name.as_str()),
            Some(Ok(detail)) => format!("{:<24} ok    {detail}", name.as_str()),
            Some(Err(e)) => {
                failed = true;
                format!("{:<24} FAIL  {e}", name.as_str())
            }
        };
        let _ = writeln!(out, "{line}");
    };
    let mut budgets: Vec<String> = Vec::new();
    for name in ProviderName::ALL {
        if name == ProviderName::Kitkot {
            let kit = match &providers.kitkot {
                // No room to join without a live user: a refused room still
                // proves the service answers and the keys are accepted.
                Some(k) => Some(match k.room("0", None).await {
                    Ok(_) => Ok("reachable".to_string()),
                    Err(ProviderError::Api { message, .. }) => {
                        Ok(format!("reachable (test room: {message})"))
                    }
                    Err(e) => Err(e),
                }),
                None => None,
            };
            report(name, kit);
            continue;
        }
        let Some(source) = sources.iter().find(|s| s.name() == name) else {
            report(name, None);
            continue;
        };
        // The probe is one call (KonbiniAPI: one username).
        let spent = spend_call(source.as_ref(), store.clone(), 1).await;
        budgets.extend(spent.note);
        let result = match spent.go {
            Ok(()) => source.probe().await,
            Err(_) => Ok("not probed: its allowance for this period is spent".into()),
        };
        report(name, Some(result));
        budgets.extend(spent.ledger.as_ref().and_then(describe_budget));
        if let Some(ledger) = spent
            .ledger
            .as_ref()
            .filter(|l| l.provider == ProviderName::Jkt48Connect)
        {
            budgets.extend(calendar_lines(
                name.as_str(),
                &crate::calendar::share(ledger.schedule.allowance, config.calendar_refresh),
            ));
        }
        if let Some(r) = source.rotation_now().await {
            budgets.push(format!(
                "{:<24} {} usernames watched: {} looked up per poll, each one about every {}",
                name.as_str(),
                r.watched,
                r.per_poll,
                human(r.each_every)
            ));
        }
    }
    for line in budgets {
        let _ = writeln!(out, "{line}");
    }
    match invite_line(config).await {
        Ok(line) => {
            let _ = writeln!(out, "{line}");
        }
        Err(line) => {
            failed = true;
            let _ = writeln!(out, "{line}");
        }
    }
    if failed {
        EXIT_PROVIDER
    } else {
        EXIT_OK
    }
}

/// `onair ready`: ask the running bot's `/readyz` on `HTTP_ADDR` (an
/// unspecified address such as 0.0.0.0 is asked on 127.0.0.1).
pub async fn ready(config: &Config, out: &mut impl Write) -> i32 {
    let Some(mut addr) = config.http_addr else {
        let _ = writeln!(out, "HTTP_ADDR is empty: the bot serves no /readyz");
        return EXIT_CONFIG;
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let answer = async {
        let resp = Http::shared()
            .client()
            .get(format!("http://{addr}/readyz"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await?;
        let ok = resp.status().is_success();
        Ok::<_, reqwest::Error>((ok, resp.text().await.unwrap_or_default()))
    };
    match answer.await {
        Ok((ok, body)) => {
            let _ = write!(out, "{body}");
            if ok {
                EXIT_OK
            } else {
                EXIT_PROVIDER
            }
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "no answer from http://{addr}/readyz: {}",
                e.without_url()
            );
            EXIT_PROVIDER
        }
    }
}

/// The invite URL, from the application id Discord gives for the token
/// (`Err` when Discord refuses the token or cannot be reached).
async fn invite_line(config: &Config) -> Result<String, String> {
    let Some(token) = &config.discord_token else {
        return Ok(format!("{:<24} set DISCORD_TOKEN to compute it", "invite"));
    };
    let rest = DiscordRest::new(
        Http::shared().client().clone(),
        &config.discord_origin(),
        token,
    );
    match rest.application_id().await {
        Ok(id) => Ok(format!(
            "{:<24} {} (scopes {}; permissions {}: {})",
            "invite",
            invite::invite_url(id),
            invite::SCOPES,
            invite::permissions().bits(),
            invite::CHANNEL_PERMISSIONS
                .iter()
                .map(|(_, name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Err(format!(
            "{:<24} FAIL  could not ask Discord for the application id: {e}",
            "invite"
        )),
    }
}

/// The budget lines of a metered provider (None when unmetered).
fn describe_budget(ledger: &Ledger) -> Option<String> {
    let r = ledger.report(Utc::now())?;
    Some(format!(
        "{:<24} budget {} {}: {} spent this period, ~{} planned to its end, {} projected left; \
polls every {} at the busiest hour ({:02}:00 UTC) to {} at the quietest; mean detection delay ~{} (learned from {} go-lives)",
        ledger.provider.as_str(),
        r.allowance.calls(),
        r.allowance.unit(),
        r.used,
        r.forecast.planned,
        r.forecast.projected_balance,
        human(r.forecast.busiest_interval),
        r.peak_hour_utc,
        human(r.forecast.quietest_interval),
        human(r.forecast.mean_delay),
        r.learned_from,
    ))
}

fn human(d: std::time::Duration) -> String {
    crate::messages::human_duration(crate::messages::Lang::En, d)
}

/// `onair check`'s lines for the calendar's share of the JKT48Connect key:
/// each list's most a month (every feed subscribed, fans asking), and what
/// is left for live detection.
fn calendar_lines(provider: &str, share: &crate::calendar::Share) -> Vec<String> {
    let lists = share.lists_text();
    let mut line = format!(
        "{provider:<24} calendar (every feed subscribed, fans asking): at most {} calls a month ({lists})",
        share.most
    );
    if let Some(left) = share.left {
        line.push_str(&format!("; at least {left} left for live detection"));
    }
    vec![line]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_each_member() {
        let mut a = LiveStream::new(Platform::Idn, "1", "Fritzy");
        a.started_at = DateTime::from_timestamp(1_700_000_000, 0);
        a.viewers = Some(12);
        a.streams.push(crate::live::StreamUrl {
            label: "original".into(),
            kind: crate::live::StreamKind::Hls,
            url: "https://x/a.m3u8".into(),
        });
        let b = LiveStream::new(Platform::Youtube, "v", "JKT48 Official");
        let mut out = Vec::new();
        let now = DateTime::from_timestamp(1_700_000_600, 0).unwrap();
        write_table(&[a, b], now, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"));
        assert!(lines[1].contains("Fritzy") && lines[1].contains("IDN Live"));
        assert!(lines[1].contains("2023-11-14 22:13 UTC (10 min ago)"));
        assert!(lines[1].ends_with("https://x/a.m3u8"));
        assert!(lines[2].contains("YouTube") && lines[2].ends_with('-'));
    }
}
