//! The message catalogue: every user-facing string, keyed by id (design §4).
//! English is the default language; Indonesian joins it in the same table
//! shape later, so no command builds user text inline.

/// English catalogue. Placeholders are `{name}` and are filled by [`t`].
const EN: &[(&str, &str)] = &[
    // /live
    ("live.none", "Nobody is live right now. Check back later!"),
    ("live.none-filtered", "Nobody matching {filter} is live right now."),
    ("live.summary", "**{count} live now**: {platforms}"),
    ("live.page", "Page {page}/{pages}"),
    ("live.stale", "⚠️ {provider} data is {age} old: the provider has not answered lately."),
    ("live.never", "⚠️ {provider} has not answered yet: the list may be incomplete."),
    ("live.not-yours", "Only the person who ran /live can turn these pages. Run /live yourself to browse."),
    ("live.unknown-platform", "Unknown platform `{value}`. Pick one of: {choices}."),
    // embed
    ("embed.platform", "Platform"),
    ("embed.started", "Started"),
    ("embed.viewers", "Viewers"),
    ("embed.streams", "Streams (HLS)"),
    ("embed.title-fallback", "{name} is live on {platform}"),
    ("button.watch", "Watch"),
    ("button.watch-name", "Watch {name}"),
    ("button.previous", "◀ Previous"),
    ("button.next", "Next ▶"),
    // /tiktok
    ("tiktok.off", "TikTok lookups are not configured on this bot (the operator has not set KONBINI_API_KEY)."),
    ("tiktok.bad-user", "`{value}` is not a TikTok username: use letters, digits, `.` and `_` (up to 24 characters)."),
    ("tiktok.not-live", "**@{user}** is not live on TikTok right now."),
    ("tiktok.live", "**@{user}** is live on TikTok!"),
    ("tiktok.upstream", "Could not reach the TikTok lookup service right now. Please try again in a minute."),
    ("tiktok.credits", "The TikTok lookup service has run out of credits. The bot operator needs to top them up."),
    // /help
    ("help.title", "onair: who is live right now"),
    ("help.about", "onair shows which JKT48 members (and other streamers) are live on IDN Live, Showroom, YouTube and TikTok, and can announce new lives in channels an admin picks."),
    ("help.commands", "**/live** [platform] [member]: who is live now\n**/tiktok** user: is a TikTok user live\n**/help**: this page"),
    ("help.providers", "Providers"),
    ("help.provider-on", "on, data {age} old"),
    ("help.provider-on-never", "on, no data yet"),
    ("help.provider-on-failing", "on, last answer {age} ago, now failing"),
    ("help.provider-on-demand", "on (asked on demand)"),
    ("help.provider-off", "off"),
    ("help.version", "onair v{version}"),
    // announcements
    ("announce.line", "**{name}** is live on {platform}"),
    ("announce.ended-line", "**{name}** was live on {platform}"),
    ("announce.ended", "Ended"),
    ("announce.ended-after", "{when}, after {duration}"),
    ("announce.ended-at", "{when}"),
    ("announce.sample-name", "onair test"),
    ("announce.sample-title", "🧪 This is a test announcement from /subscription test"),
    // admin setup
    ("subscribe.other-guild", "That channel is not in this server."),
    ("subscribe.bad-livestream", "`{value}` is not a RealtimeKit livestream id."),
    ("subscribe.template-too-long", "The template is too long: keep it under {max} characters."),
    ("subscribe.missing", "I can't announce in {channel}: I am missing **{missing}** there. Nothing was saved; give me those permissions and try again."),
    ("subscribe.saved", "Saved subscription `#{id}`: {what}. Try `/subscription test id:{id}` to see a sample."),
    ("subscribe.all-platforms", "all platforms"),
    ("subscribe.custom-template", "custom message"),
    ("subscriptions.none", "This server has no subscriptions yet. Add one with `/subscribe`."),
    ("subscriptions.title", "**{count} subscription(s)**"),
    ("subscriptions.disabled", "⛔ disabled: {reason}"),
    ("subscriptions.last-error", "⚠️ last error: {error}"),
    ("subscriptions.last-ok", "✅ last announcement {when}"),
    ("subscriptions.no-delivery", "no announcement yet"),
    ("unsubscribe.done", "Removed subscription `#{id}`."),
    ("subscription.unknown", "This server has no subscription `#{id}`."),
    ("test.marker", "🧪 **TEST**"),
    ("test.sent", "Sent a test announcement to {channel}."),
    ("test.failed", "Could not post in {channel}: {error}"),
    // /stream
    ("stream.off", "Cloudflare RealtimeKit is not configured on this bot (the operator has not set CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and REALTIMEKIT_APP_ID)."),
    ("stream.no-permission", "The Cloudflare token lacks Realtime permission: the bot operator needs to give it the Realtime (or Realtime Admin) permission."),
    ("stream.not-found", "No such livestream (or meeting) in this RealtimeKit app."),
    ("stream.upstream", "Cloudflare did not answer as expected. Please try again in a minute."),
    ("stream.bad-id", "`{value}` is not a valid id."),
    ("stream.bad-name", "Give the livestream a name."),
    ("stream.created", "Livestream “{name}” created"),
    ("stream.id", "Id"),
    ("stream.ingest", "Ingest server (RTMPS)"),
    ("stream.key", "Stream key (secret: do not share)"),
    ("stream.playback", "Playback URL (HLS)"),
    ("stream.obs-title", "Go live with OBS"),
    ("stream.obs-hint", "Settings → Stream → Service: Custom. Server: the ingest server above. Stream Key: the key above. Then Start Streaming."),
    ("stream.secret-footer", "Only you can see this message. Anyone with the stream key can broadcast on this livestream."),
    ("stream.list-title", "RealtimeKit livestreams ({count})"),
    ("stream.none", "No livestreams in this app yet. Create one with /stream create."),
    ("stream.status", "Status"),
    ("stream.session", "Session"),
    ("stream.no-session", "No active session."),
    ("stream.ingest-time", "Ingest time"),
    ("stream.viewer-time", "Viewer time"),
    ("stream.hours-minutes", "{h} h {m} min"),
    ("stream.count", "Livestreams"),
    ("stream.stats-title", "Livestream analytics, last {days} days"),
    ("stream.stop-ask", "Stop the active livestream of meeting `{meeting}`? Viewers will be cut off."),
    ("stream.stop-confirm", "Stop livestream"),
    ("stream.stop-cancel", "Cancel"),
    ("stream.stop-cancelled", "Cancelled: nothing was stopped."),
    ("stream.stopped", "Stopped the livestream of meeting `{meeting}`. {message}"),
    // errors
    ("error.generic", "Something went wrong while running this command. It has been logged; please try again."),
    ("error.guild-only", "This command only works inside a server."),
    ("error.cooldown", "Slow down a little: try again in {secs} s."),
    ("error.bad-argument", "That option value is not valid: {detail}"),
    ("error.missing-permissions", "You need the **{permissions}** permission to use this command."),
];

/// Look up `id` and fill its `{placeholders}` from `args`.
pub fn t(id: &str, args: &[(&str, &(dyn std::fmt::Display + Sync))]) -> String {
    let template = EN
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| {
            tracing::error!(id, "missing message id in catalogue");
            id
        });
    fill(template, args)
}

fn fill(template: &str, args: &[(&str, &(dyn std::fmt::Display + Sync))]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match args.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(&v.to_string()),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// "2 h 5 min", "45 s": a short human age or duration.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        let m = (s % 3600) / 60;
        if m == 0 {
            format!("{} h", s / 3600)
        } else {
            format!("{} h {} min", s / 3600, m)
        }
    } else {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// "950", "1.2k", "3.4M": a compact count.
pub fn compact_count(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 1_000_000 {
        trim_decimal(n as f64 / 1000.0, "k")
    } else {
        trim_decimal(n as f64 / 1_000_000.0, "M")
    }
}

fn trim_decimal(v: f64, unit: &str) -> String {
    let s = format!("{:.1}", (v * 10.0).floor() / 10.0);
    format!("{}{unit}", s.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fills_placeholders() {
        assert_eq!(
            t("tiktok.not-live", &[("user", &"khaby.lame")]),
            "**@khaby.lame** is not live on TikTok right now."
        );
        assert_eq!(fill("{a} and {b}", &[("a", &1)]), "1 and {b}");
        assert_eq!(fill("open { only", &[]), "open { only");
    }

    #[test]
    fn ids_are_unique_and_placeholders_balanced() {
        let mut seen = std::collections::HashSet::new();
        for (k, v) in EN {
            assert!(seen.insert(*k), "duplicate id {k}");
            assert_eq!(v.matches('{').count(), v.matches('}').count(), "{k}");
        }
    }

    #[test]
    fn durations_and_counts() {
        assert_eq!(human_duration(Duration::from_secs(45)), "45 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min");
        assert_eq!(human_duration(Duration::from_secs(7500)), "2 h 5 min");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2 h");
        assert_eq!(compact_count(950), "950");
        assert_eq!(compact_count(1250), "1.2k");
        assert_eq!(compact_count(15_000), "15k");
        assert_eq!(compact_count(3_456_789), "3.4M");
    }
}
