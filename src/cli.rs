//! The terminal side: `onair live` and `onair check`, without Discord.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::live::{LiveStream, Platform};
use crate::providers::realtimekit::LivestreamStatus;
use crate::providers::{http_client, ProviderError, ProviderName, REQUEST_TIMEOUT};
use crate::snapshot::sort_streams;
use crate::types::Providers;

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

/// Everything live across the configured providers, plus the failures.
pub async fn collect_live(
    providers: &Providers,
    tiktok_users: &[String],
) -> (Vec<LiveStream>, Vec<ProviderError>) {
    let mut streams = Vec::new();
    let mut errors = Vec::new();
    let jkt = async {
        match &providers.jkt48connect {
            Some(j) => Some(j.live().await),
            None => None,
        }
    };
    let rtk = async {
        match &providers.realtimekit {
            Some(r) => Some(r.list_livestreams().await.map(|list| {
                list.iter()
                    .filter(|l| l.status == LivestreamStatus::Live)
                    .map(|l| l.to_live_stream(None))
                    .collect::<Vec<_>>()
            })),
            None => None,
        }
    };
    let tt = async {
        let mut out = Vec::new();
        if let Some(k) = &providers.konbini {
            for u in tiktok_users {
                out.push(
                    k.user_live(u)
                        .await
                        .map(|a| a.live.into_iter().collect::<Vec<_>>()),
                );
            }
        }
        out
    };
    let (jkt, rtk, tt) = tokio::join!(jkt, rtk, tt);
    for r in [jkt, rtk].into_iter().flatten().chain(tt) {
        match r {
            Ok(v) => streams.extend(v),
            Err(e) => errors.push(e),
        }
    }
    sort_streams(&mut streams);
    (streams, errors)
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
    let providers = Providers::from_config(config, &http_client(REQUEST_TIMEOUT));
    let (mut streams, errors) = collect_live(&providers, &args.tiktok).await;
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

/// `onair check`: reach every configured provider once and report.
pub async fn check(config: &Config, out: &mut impl Write) -> i32 {
    let providers = Providers::from_config(config, &http_client(REQUEST_TIMEOUT));
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
    let jkt = match &providers.jkt48connect {
        Some(j) => Some(j.live().await.map(|v| format!("{} live now", v.len()))),
        None => None,
    };
    report(ProviderName::Jkt48Connect, jkt);
    let kon = match &providers.konbini {
        Some(k) => Some(
            k.user_live("tiktok")
                .await
                .map(|a| match a.credits_remaining {
                    Some(c) => format!("reachable, {c} credits left"),
                    None => "reachable".to_string(),
                }),
        ),
        None => None,
    };
    report(ProviderName::Konbini, kon);
    let kit = match &providers.kitkot {
        // No room to join without a live user: a refused room still proves
        // the service answers and the keys are accepted.
        Some(k) => Some(match k.room("0", None).await {
            Ok(_) => Ok("reachable".to_string()),
            Err(ProviderError::Api { message, .. }) => {
                Ok(format!("reachable (test room: {message})"))
            }
            Err(e) => Err(e),
        }),
        None => None,
    };
    report(ProviderName::Kitkot, kit);
    let rtk = match &providers.realtimekit {
        Some(r) => Some(r.list_livestreams().await.map(|v| {
            let live = v
                .iter()
                .filter(|l| l.status == LivestreamStatus::Live)
                .count();
            format!("{} livestreams, {live} live", v.len())
        })),
        None => None,
    };
    report(ProviderName::RealtimeKit, rtk);
    if failed {
        EXIT_PROVIDER
    } else {
        EXIT_OK
    }
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
