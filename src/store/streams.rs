//! Broadcasts seen: one row per broadcast (`platform:key@start`), what it
//! last looked like, and what its live card last showed.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::error::StoreError;
use super::sql::{ms, platform, time, SqlEngine, SqlStore};
use crate::live::{LiveStream, Platform};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredStream {
    pub id: i64,
    /// `StreamId` as text: `platform:key@start`.
    pub stream_id: String,
    pub platform: Platform,
    pub started_at: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The highest viewer count any poll reported while it was live.
    pub peak_viewers: Option<u64>,
    /// The title it went live with (the recap shows a change).
    pub first_title: Option<String>,
    /// What the live-update edits last showed (JSON of
    /// [`crate::announce::card::CardState`]) and when.
    pub card: Option<String>,
    pub card_at: Option<DateTime<Utc>>,
    /// As last seen (the final viewers, the current title).
    pub stream: LiveStream,
}

/// The streams table.
#[async_trait::async_trait]
pub trait StreamTable: Send + Sync {
    async fn upsert_stream(&self, stream: &LiveStream) -> Result<StoredStream, StoreError>;
    async fn end_stream(&self, row: i64, ended_at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn open_streams(&self) -> Result<Vec<StoredStream>, StoreError>;
    /// Record what the live-update edits of a broadcast now show.
    async fn mark_card_shown(
        &self,
        row: i64,
        card: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The broadcasts that ended, latest end first, at most `limit`.
    async fn recent_streams(&self, limit: u32) -> Result<Vec<StoredStream>, StoreError>;
    async fn get_stream(&self, row: i64) -> Result<Option<StoredStream>, StoreError>;
    /// When broadcasts on these platforms went live (their start, or when
    /// the bot first saw them), since `since`, oldest first, at most `limit`.
    async fn go_live_times(
        &self,
        platforms: &[Platform],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;
}

pub(super) const STREAM_COLS: &str = "id, stream_id, platform, started_at, first_seen, ended_at, \
                                      data, peak_viewers, first_title, card, card_at";

pub(super) fn stored_stream<R: Row>(r: &R) -> Result<StoredStream, StoreError>
where
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: ColumnIndex<R>,
{
    let data: String = r.try_get("data")?;
    let stream: LiveStream = serde_json::from_str(&data)
        .map_err(|e| StoreError::Corrupt(format!("stream JSON: {e}")))?;
    Ok(StoredStream {
        id: r.try_get("id")?,
        stream_id: r.try_get("stream_id")?,
        platform: platform(Some(r.try_get("platform")?))?.unwrap_or(stream.platform),
        started_at: time(r.try_get("started_at")?),
        first_seen: time(r.try_get("first_seen")?).unwrap_or_default(),
        ended_at: time(r.try_get("ended_at")?),
        peak_viewers: r
            .try_get::<Option<i64>, _>("peak_viewers")?
            .and_then(|v| u64::try_from(v).ok()),
        first_title: r.try_get("first_title")?,
        card: r.try_get("card")?,
        card_at: time(r.try_get("card_at")?),
        stream,
    })
}

#[async_trait::async_trait]
impl<DB> StreamTable for SqlStore<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> String: Encode<'r, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'r> Option<i64>: Encode<'r, DB>,
    for<'r> Option<String>: Encode<'r, DB>,
    for<'r> Option<&'r str>: Encode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    #[tracing::instrument(skip_all, fields(stream = %stream.id()))]
    async fn upsert_stream(&self, stream: &LiveStream) -> Result<StoredStream, StoreError> {
        let data = serde_json::to_string(stream).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = format!(
            "INSERT INTO streams (stream_id, platform, started_at, first_seen, data, peak_viewers, first_title)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (stream_id) DO UPDATE SET data = excluded.data, ended_at = NULL,
               peak_viewers = CASE WHEN streams.peak_viewers IS NULL OR excluded.peak_viewers > streams.peak_viewers
                 THEN COALESCE(excluded.peak_viewers, streams.peak_viewers) ELSE streams.peak_viewers END
             RETURNING {STREAM_COLS}"
        );
        let row = sqlx::query(&sql)
            .bind(stream.id().to_string())
            .bind(stream.platform.as_str())
            .bind(stream.started_at.map(ms))
            .bind(ms(Utc::now()))
            .bind(data)
            .bind(stream.viewers.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
            .bind(stream.title.as_deref())
            .fetch_one(&self.pool)
            .await?;
        stored_stream(&row)
    }

    #[tracing::instrument(skip_all, fields(row))]
    async fn end_stream(&self, row: i64, ended_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_by_id(
            "UPDATE streams SET ended_at = $1 WHERE id = $2",
            ms(ended_at),
            row,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn open_streams(&self) -> Result<Vec<StoredStream>, StoreError> {
        let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NULL ORDER BY id");
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stored_stream)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(row))]
    async fn mark_card_shown(
        &self,
        row: i64,
        card: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE streams SET card = $1, card_at = $2 WHERE id = $3")
            .bind(card)
            .bind(ms(at))
            .bind(row)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn recent_streams(&self, limit: u32) -> Result<Vec<StoredStream>, StoreError> {
        let sql = format!(
            "SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NOT NULL
             ORDER BY ended_at DESC, id DESC LIMIT $1"
        );
        self.select(&sql, Some(i64::from(limit)), stored_stream)
            .await
    }

    async fn get_stream(&self, row: i64) -> Result<Option<StoredStream>, StoreError> {
        let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE id = $1");
        sqlx::query(&sql)
            .bind(row)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(stored_stream)
            .transpose()
    }

    async fn go_live_times(
        &self,
        platforms: &[Platform],
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        if platforms.is_empty() {
            return Ok(Vec::new());
        }
        let n = platforms.len();
        let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT COALESCE(started_at, first_seen) FROM streams
             WHERE platform IN ({}) AND first_seen >= ${} ORDER BY first_seen DESC, id DESC LIMIT ${}",
            marks.join(", "),
            n + 1,
            n + 2
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for p in platforms {
            q = q.bind(p.as_str());
        }
        let mut times: Vec<DateTime<Utc>> = q
            .bind(ms(since))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .filter_map(DateTime::from_timestamp_millis)
            .collect();
        times.reverse();
        Ok(times)
    }
}
