//! `/tiktok user:<username>`: KonbiniAPI on demand (cached briefly per
//! username), enriched with kitkot's HLS links when kitkot is configured.

use poise::serenity_prelude as serenity;

use crate::embeds::{stream_embed, watch_button};
use crate::live::LiveStream;
use crate::messages::t;
use crate::providers::ProviderError;
use crate::tiktok_cache::TiktokLookup;
use crate::types::{Context, Data, Error, UserError};

/// Is this TikTok user live right now?
#[poise::command(slash_command)]
pub async fn tiktok(
    ctx: Context<'_>,
    #[description = "TikTok username, with or without @"]
    #[max_length = 100]
    user: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let lang = super::lang(ctx);
    let Some(konbini) = data.providers.konbini.as_ref() else {
        return Err(UserError(t(lang, "tiktok-off", &[])).into());
    };
    let Ok(username) = crate::providers::konbini::normalize_username(&user) else {
        let shown = crate::embeds::clean_text(&user, 40).replace('`', "'");
        return Err(UserError(t(lang, "tiktok-bad-user", &[("value", &shown)])).into());
    };

    // A cached or quick answer goes out directly, public when it is an
    // answer and private when it is an error. A slow one is deferred
    // ephemerally before the 3-second interaction deadline: the first
    // follow-up of a deferral inherits its visibility, so only a private
    // deferral keeps an error private.
    let lookup = match data.tiktok.peek(&username) {
        Some(hit) => Ok(hit),
        None => {
            let fetch = data
                .tiktok
                .get_or_fetch(&username, || fetch(data, konbini, username.clone()));
            tokio::pin!(fetch);
            match tokio::time::timeout(DIRECT_ANSWER_WITHIN, &mut fetch).await {
                Ok(done) => done,
                Err(_) => {
                    ctx.defer_ephemeral().await?;
                    fetch.await
                }
            }
        }
    };

    match lookup {
        Ok(TiktokLookup::NotLive) => {
            ctx.send(
                poise::CreateReply::default()
                    .content(t(lang, "tiktok-not-live", &[("user", &username)]))
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            )
            .await?;
        }
        Ok(TiktokLookup::Live(stream)) => {
            let mut reply = poise::CreateReply::default()
                .content(t(lang, "tiktok-live", &[("user", &username)]))
                .embed(stream_embed(lang, &stream).to_create())
                .allowed_mentions(serenity::CreateAllowedMentions::new());
            if let Some(b) = watch_button(lang, &stream, false) {
                reply = reply.components(vec![serenity::CreateActionRow::Buttons(vec![b])]);
            }
            ctx.send(reply).await?;
        }
        Err(message) => {
            ctx.send(
                poise::CreateReply::default()
                    .content(t(lang, &message, &[]))
                    .ephemeral(true)
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            )
            .await?;
        }
    }
    Ok(())
}

/// How long `/tiktok` waits for upstream before deferring (Discord's
/// deadline for the first answer is 3 s).
pub const DIRECT_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2000);

/// The upstream calls behind one lookup. Errors come back as the catalogue
/// id of the text to show (in each asker's language); details are logged.
async fn fetch(
    data: &Data,
    konbini: &crate::providers::konbini::Konbini,
    username: String,
) -> Result<TiktokLookup, String> {
    let answer = match konbini.user_live(&username).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, user = %username, "/tiktok lookup failed");
            return Err(match e {
                ProviderError::CreditsExhausted { .. } => "tiktok-credits".to_string(),
                _ => "tiktok-upstream".to_string(),
            });
        }
    };
    let Some(mut stream) = answer.live else {
        return Ok(TiktokLookup::NotLive);
    };
    if let (Some(kitkot), Some(room)) = (data.providers.kitkot.as_ref(), answer.room_id.as_deref())
    {
        match kitkot.room(room, None).await {
            Ok(details) => merge_streams(&mut stream, details.streams),
            Err(e) => tracing::warn!(error = %e, "kitkot enrichment failed; answering without HLS"),
        }
    }
    Ok(TiktokLookup::Live(Box::new(stream)))
}

/// Add kitkot's URLs that the stream does not have yet, HLS first.
pub fn merge_streams(stream: &mut LiveStream, extra: Vec<crate::live::StreamUrl>) {
    for s in extra {
        if !stream.streams.iter().any(|have| have.url == s.url) {
            stream.streams.push(s);
        }
    }
    stream
        .streams
        .sort_by_key(|s| s.kind != crate::live::StreamKind::Hls);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Platform, StreamKind, StreamUrl};

    #[test]
    fn merge_puts_hls_first_and_dedupes() {
        let mut s = LiveStream::new(Platform::Tiktok, "k", "K");
        s.streams.push(StreamUrl {
            label: "flv".into(),
            kind: StreamKind::Flv,
            url: "https://a/x.flv".into(),
        });
        merge_streams(
            &mut s,
            vec![
                StreamUrl {
                    label: "flv".into(),
                    kind: StreamKind::Flv,
                    url: "https://a/x.flv".into(),
                },
                StreamUrl {
                    label: "1080p".into(),
                    kind: StreamKind::Hls,
                    url: "https://a/x.m3u8".into(),
                },
            ],
        );
        assert_eq!(s.streams.len(), 2);
        assert_eq!(s.streams[0].kind, StreamKind::Hls);
    }
}
