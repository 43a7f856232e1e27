//! Configuration: environment plus `.env`, parsed once at start into typed
//! values (every variable is in the README's Configuration table). A wrong
//! value stops the start naming the variable.

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use crate::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var}: {problem} (got `{value}`)")]
    Invalid {
        var: &'static str,
        value: String,
        problem: String,
    },
    #[error("{var} is required {why}")]
    Missing {
        var: &'static str,
        why: &'static str,
    },
}

#[derive(Debug, Clone)]
pub struct Jkt48ConnectConfig {
    pub api_key: Secret,
    pub base_url: Url,
    /// `JKT48CONNECT_POLL_SECS`: the shortest wait between two polls.
    pub interval: Duration,
    /// `JKT48CONNECT_CALLS_PER_MONTH`: the key's package (None = unmetered).
    pub calls_per_month: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct KonbiniConfig {
    pub api_key: Secret,
    pub base_url: Url,
    /// `KONBINI_POLL_SECS`.
    pub interval: Duration,
    /// `KONBINI_CREDITS_PER_DAY` (None = no daily cap, poll every interval).
    pub credits_per_day: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct KitkotConfig {
    pub api_key: Secret,
    pub session_key: Secret,
    pub base_url: Url,
}

#[derive(Debug, Clone)]
pub struct RealtimeKitConfig {
    pub api_token: Secret,
    pub account_id: String,
    pub app_id: String,
    pub base_url: Url,
    /// `REALTIMEKIT_POLL_SECS`.
    pub interval: Duration,
}

/// Which gateway shards this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shards {
    /// The first and last shard id of this process (inclusive).
    pub first: u32,
    pub last: u32,
    /// Shards of the whole bot, across every process.
    pub total: u32,
}

impl Shards {
    pub fn count(&self) -> u32 {
        self.last - self.first + 1
    }
}

/// Everything the bot reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub discord_token: Option<Secret>,
    pub discord_api_url: Option<Url>,
    pub dev_guild_id: Option<u64>,
    /// May carry a PostgreSQL password: printed only as `[redacted]`.
    pub database_url: Secret,
    pub poll_interval: Duration,
    pub end_grace: Duration,
    pub discord_global_rps: u32,
    /// Webhook executions per second (identity:member posts; Discord counts
    /// them per IP, apart from the bot's global limit).
    pub discord_webhook_rps: u32,
    /// How long start-up keeps retrying Discord (5xx, timeouts) before the
    /// process exits non-zero for its supervisor to restart it.
    pub startup_retry: Duration,
    /// How long after a broadcast ended its announcement is still worth
    /// retrying (5xx, timeouts); past it the delivery is dropped as stale.
    pub delivery_stale_after: Duration,
    /// The longest wait between two retries of one delivery.
    pub delivery_retry_max: Duration,
    /// How long Discord is assumed to remember a message nonce.
    pub discord_nonce_window: Duration,
    /// `LIVE_UPDATE_SECS`: at most one live-update edit per announcement
    /// per this long; `None` (0): cards are not edited while live.
    pub live_update: Option<Duration>,
    /// `CALENDAR_REFRESH_SECS`: the calendar feeds read each list at most
    /// this long after the last read (None: the plan for the key's size,
    /// `src/calendar/reads.rs`).
    pub calendar_refresh: Option<Duration>,
    /// `/subscription test`: at most one sample post per server this often.
    pub test_cooldown: Duration,
    /// `RETENTION_DAYS`: ended broadcasts and finished deliveries older
    /// than this are deleted.
    pub retention: Duration,
    /// `/tiktok` cooldowns: per user, per server.
    pub tiktok_cooldown_user: Duration,
    pub tiktok_cooldown_guild: Duration,
    /// Guilds where `/stream` (the operator's Cloudflare account) exists.
    pub operator_guild_ids: Vec<u64>,
    /// `DISCORD_SHARD_COUNT` / `DISCORD_SHARD_IDS`; `None`: this process
    /// runs every shard, as many as Discord recommends.
    pub shards: Option<Shards>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (`None`: off).
    pub http_addr: Option<std::net::SocketAddr>,
    pub jkt48connect: Option<Jkt48ConnectConfig>,
    pub konbini: Option<KonbiniConfig>,
    pub kitkot: Option<KitkotConfig>,
    pub realtimekit: Option<RealtimeKitConfig>,
    /// `REALTIMEKIT_PUBLIC`: the operator's RealtimeKit livestreams reach
    /// catch-all and platform subscriptions, not only those naming them.
    pub realtimekit_public: bool,
    /// What one server (and everyone together) may have and spend.
    pub limits: crate::limits::Limits,
    /// `DISCORD_FAIR_SHARES`: fan-outs serve servers round-robin (default);
    /// `false` only to measure the difference.
    pub fair_shares: bool,
}

impl Config {
    /// Read `.env` (when present; existing variables win) and the process
    /// environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_map(&vars)
    }

    /// Parse from an explicit map (tests use this; no process state).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let discord_token = get("DISCORD_TOKEN").map(Secret::new);
        let discord_api_url = get("DISCORD_API_URL")
            .map(|v| parse_url("DISCORD_API_URL", &v))
            .transpose()?;
        let dev_guild_id = get("DEV_GUILD_ID")
            .map(|v| parse_snowflake("DEV_GUILD_ID", &v))
            .transpose()?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://onair.db".into());
        if crate::store::Engine::of(&database_url).is_none() {
            return Err(ConfigError::Invalid {
                var: "DATABASE_URL",
                value: redact_db_url(&database_url),
                problem: "must start with sqlite:// or postgres://".into(),
            });
        }
        let poll_interval = parse_secs(
            get("POLL_INTERVAL_SECS"),
            "POLL_INTERVAL_SECS",
            30,
            1,
            86_400,
        )?;
        let end_grace = parse_secs(get("END_GRACE_SECS"), "END_GRACE_SECS", 180, 0, 86_400)?;
        let discord_global_rps = match get("DISCORD_GLOBAL_RPS") {
            None => 40,
            Some(v) => parse_range("DISCORD_GLOBAL_RPS", &v, 1, 10_000)? as u32,
        };
        let discord_webhook_rps = match get("DISCORD_WEBHOOK_RPS") {
            None => 40,
            Some(v) => parse_range("DISCORD_WEBHOOK_RPS", &v, 1, 10_000)? as u32,
        };

        let startup_retry = parse_secs(
            get("STARTUP_RETRY_SECS"),
            "STARTUP_RETRY_SECS",
            120,
            0,
            3_600,
        )?;
        let delivery_stale_after = parse_secs(
            get("DELIVERY_STALE_SECS"),
            "DELIVERY_STALE_SECS",
            900,
            0,
            86_400,
        )?;
        let delivery_retry_max = parse_secs(
            get("DELIVERY_RETRY_MAX_SECS"),
            "DELIVERY_RETRY_MAX_SECS",
            60,
            1,
            3_600,
        )?;
        let discord_nonce_window = parse_secs(
            get("DISCORD_NONCE_WINDOW_SECS"),
            "DISCORD_NONCE_WINDOW_SECS",
            60,
            0,
            3_600,
        )?;
        let live_update = Some(parse_secs(
            get("LIVE_UPDATE_SECS"),
            "LIVE_UPDATE_SECS",
            600,
            0,
            86_400,
        )?)
        .filter(|d| !d.is_zero());
        let calendar_refresh = match get("CALENDAR_REFRESH_SECS") {
            None => None,
            Some(v) => Some(Duration::from_secs(parse_range(
                "CALENDAR_REFRESH_SECS",
                &v,
                1,
                7 * 86_400,
            )?)),
        };

        let tiktok_cooldown_user = parse_secs(
            get("TIKTOK_COOLDOWN_USER_SECS"),
            "TIKTOK_COOLDOWN_USER_SECS",
            30,
            0,
            86_400,
        )?;
        let tiktok_cooldown_guild = parse_secs(
            get("TIKTOK_COOLDOWN_GUILD_SECS"),
            "TIKTOK_COOLDOWN_GUILD_SECS",
            10,
            0,
            86_400,
        )?;
        let test_cooldown = parse_secs(
            get("SUBSCRIPTION_TEST_COOLDOWN_SECS"),
            "SUBSCRIPTION_TEST_COOLDOWN_SECS",
            60,
            0,
            86_400,
        )?;
        let retention_days = match get("RETENTION_DAYS") {
            None => 90,
            // The go-live profile learns from the last 60 days.
            Some(v) => parse_range("RETENTION_DAYS", &v, 60, 36_500)?,
        };
        let retention = Duration::from_secs(retention_days * 86_400);
        let shards = parse_shards(get("DISCORD_SHARD_COUNT"), get("DISCORD_SHARD_IDS"))?;
        // Unset: the default; set but empty: off.
        let http_addr = match vars.get("HTTP_ADDR").map(|v| v.trim()) {
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9090))),
            Some("") => None,
            Some(v) => Some(v.parse().map_err(|_| ConfigError::Invalid {
                var: "HTTP_ADDR",
                value: v.to_string(),
                problem: "must be an address and port such as 127.0.0.1:9090 or 0.0.0.0:9090, or empty to turn the endpoints off".into(),
            })?),
        };
        let operator_guild_ids = match get("OPERATOR_GUILD_IDS") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_snowflake("OPERATOR_GUILD_IDS", s))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let interval_of = |var: &'static str| -> Result<Duration, ConfigError> {
            match get(var) {
                None => Ok(poll_interval),
                Some(v) => parse_secs(Some(v), var, 30, 1, 86_400),
            }
        };

        let base = |var: &'static str, default: &str| -> Result<Url, ConfigError> {
            parse_url(var, &get(var).unwrap_or_else(|| default.to_string()))
        };

        let jkt48connect = match get("JKT48CONNECT_API_KEY") {
            Some(k) => Some(Jkt48ConnectConfig {
                api_key: Secret::new(k),
                base_url: base("JKT48CONNECT_URL", "https://v2.jkt48connect.com")?,
                interval: interval_of("JKT48CONNECT_POLL_SECS")?,
                calls_per_month: parse_allowance(
                    get("JKT48CONNECT_CALLS_PER_MONTH"),
                    "JKT48CONNECT_CALLS_PER_MONTH",
                    Some(JKT48CONNECT_DEFAULT_CALLS_PER_MONTH),
                )?,
            }),
            None => None,
        };
        let konbini = match get("KONBINI_API_KEY") {
            Some(k) => Some(KonbiniConfig {
                api_key: Secret::new(k),
                base_url: base("KONBINI_URL", "https://api.konbiniapi.com")?,
                interval: interval_of("KONBINI_POLL_SECS")?,
                credits_per_day: parse_allowance(
                    get("KONBINI_CREDITS_PER_DAY"),
                    "KONBINI_CREDITS_PER_DAY",
                    None,
                )?,
            }),
            None => None,
        };
        let kitkot = match (get("KITKOT_API_KEY"), get("KITKOT_SESSION_KEY")) {
            (Some(k), Some(s)) => Some(KitkotConfig {
                api_key: Secret::new(k),
                session_key: Secret::new(s),
                base_url: base("KITKOT_URL", "https://kitkot.xyz/api")?,
            }),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "KITKOT_SESSION_KEY",
                    why: "when KITKOT_API_KEY is set",
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "KITKOT_API_KEY",
                    why: "when KITKOT_SESSION_KEY is set",
                })
            }
            (None, None) => None,
        };
        let realtimekit = match get("CLOUDFLARE_API_TOKEN") {
            Some(t) => {
                let account_id = get("CLOUDFLARE_ACCOUNT_ID").ok_or(ConfigError::Missing {
                    var: "CLOUDFLARE_ACCOUNT_ID",
                    why: "when CLOUDFLARE_API_TOKEN is set",
                })?;
                let app_id = get("REALTIMEKIT_APP_ID").ok_or(ConfigError::Missing {
                    var: "REALTIMEKIT_APP_ID",
                    why: "when CLOUDFLARE_API_TOKEN is set",
                })?;
                check_id("CLOUDFLARE_ACCOUNT_ID", &account_id)?;
                check_id("REALTIMEKIT_APP_ID", &app_id)?;
                Some(RealtimeKitConfig {
                    api_token: Secret::new(t),
                    account_id,
                    app_id,
                    base_url: base("CLOUDFLARE_API_URL", "https://api.cloudflare.com/client/v4")?,
                    interval: interval_of("REALTIMEKIT_POLL_SECS")?,
                })
            }
            None => None,
        };

        let realtimekit_public =
            parse_bool(get("REALTIMEKIT_PUBLIC"), "REALTIMEKIT_PUBLIC", false)?;
        let fair_shares = parse_bool(get("DISCORD_FAIR_SHARES"), "DISCORD_FAIR_SHARES", true)?;
        let defaults = crate::limits::Limits::default();
        let limit = |var: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => parse_range(var, &v, 1, max),
            }
        };
        let limits = crate::limits::Limits {
            subscriptions_per_guild: limit(
                "GUILD_MAX_SUBSCRIPTIONS",
                defaults.subscriptions_per_guild.into(),
                100_000,
            )? as u32,
            tiktok_per_guild: limit(
                "GUILD_MAX_TIKTOK_USERNAMES",
                defaults.tiktok_per_guild.into(),
                100_000,
            )? as u32,
            tiktok_total: limit(
                "TIKTOK_MAX_USERNAMES",
                defaults.tiktok_total.into(),
                1_000_000,
            )? as u32,
            tiktok_lookups_per_day: limit(
                "TIKTOK_LOOKUPS_PER_DAY",
                defaults.tiktok_lookups_per_day,
                100_000_000,
            )?,
        };

        Ok(Config {
            realtimekit_public,
            limits,
            fair_shares,
            test_cooldown,
            retention,
            discord_token,
            discord_api_url,
            dev_guild_id,
            database_url: Secret::new(database_url),
            poll_interval,
            end_grace,
            discord_global_rps,
            discord_webhook_rps,
            startup_retry,
            delivery_stale_after,
            delivery_retry_max,
            discord_nonce_window,
            live_update,
            calendar_refresh,
            tiktok_cooldown_user,
            tiktok_cooldown_guild,
            operator_guild_ids,
            http_addr,
            shards,
            jkt48connect,
            konbini,
            kitkot,
            realtimekit,
        })
    }

    /// Discord's origin: `DISCORD_API_URL`, or discord.com.
    pub fn discord_origin(&self) -> Url {
        self.discord_api_url
            .clone()
            .unwrap_or_else(|| Url::parse("https://discord.com").expect("static URL"))
    }

    /// The database engine `DATABASE_URL` names (checked at parse time).
    pub fn engine(&self) -> crate::store::Engine {
        crate::store::Engine::of(self.database_url.expose()).unwrap_or(crate::store::Engine::Sqlite)
    }

    /// One line per provider: on, or off and which variable turns it on.
    pub fn provider_summary(&self) -> Vec<(&'static str, bool, &'static str)> {
        vec![
            (
                "JKT48Connect",
                self.jkt48connect.is_some(),
                "JKT48CONNECT_API_KEY",
            ),
            ("KonbiniAPI", self.konbini.is_some(), "KONBINI_API_KEY"),
            (
                "kitkot",
                self.kitkot.is_some(),
                "KITKOT_API_KEY and KITKOT_SESSION_KEY",
            ),
            (
                "Cloudflare RealtimeKit",
                self.realtimekit.is_some(),
                "CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and REALTIMEKIT_APP_ID",
            ),
        ]
    }
}

fn parse_url(var: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::Invalid {
        var,
        value: value.to_string(),
        problem: format!("not a valid URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid {
            var,
            value: value.to_string(),
            problem: "must be an http:// or https:// URL".into(),
        });
    }
    if url.query().is_some() {
        return Err(ConfigError::Invalid {
            var,
            value: url.path().to_string(),
            problem: "must not carry a query string (keys go in their own variables)".into(),
        });
    }
    Ok(url)
}

/// JKT48Connect's smallest package (Basic): what the bot assumes when the
/// operator did not say, so an unconfigured bot never empties a paid key.
pub const JKT48CONNECT_DEFAULT_CALLS_PER_MONTH: u64 = 1_000;

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`); unset: `default`.
fn parse_bool(v: Option<String>, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    let Some(v) = v else {
        return Ok(default);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            var,
            value: v,
            problem: "must be true or false".into(),
        }),
    }
}

/// A call allowance: a whole number ≥ 1, or `unlimited` (an unmetered key).
fn parse_allowance(
    value: Option<String>,
    var: &'static str,
    default: Option<u64>,
) -> Result<Option<u64>, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("unlimited") => Ok(None),
        Some(v) => {
            let n: u64 = v
                .replace(['_', ','], "")
                .parse()
                .map_err(|_| ConfigError::Invalid {
                    var,
                    value: v.clone(),
                    problem: "expected a whole number of calls (e.g. 5000) or `unlimited`".into(),
                })?;
            if n == 0 {
                return Err(ConfigError::Invalid {
                    var,
                    value: v,
                    problem: "must be at least 1 (or `unlimited`); to turn the provider off, unset its key".into(),
                });
            }
            Ok(Some(n))
        }
    }
}

fn parse_range(var: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let n: u64 = value.parse().map_err(|_| ConfigError::Invalid {
        var,
        value: value.to_string(),
        problem: "expected a whole number".into(),
    })?;
    if n < min || n > max {
        return Err(ConfigError::Invalid {
            var,
            value: value.to_string(),
            problem: format!("must be between {min} and {max}"),
        });
    }
    Ok(n)
}

fn parse_secs(
    value: Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(Duration::from_secs(default)),
        Some(v) => Ok(Duration::from_secs(parse_range(var, &v, min, max)?)),
    }
}

/// `DISCORD_SHARD_COUNT` (total, 1–4096) and `DISCORD_SHARD_IDS` (this
/// process's inclusive range `first-last`, or one id; all when unset).
fn parse_shards(count: Option<String>, ids: Option<String>) -> Result<Option<Shards>, ConfigError> {
    let Some(count) = count else {
        if let Some(ids) = ids {
            return Err(ConfigError::Invalid {
                var: "DISCORD_SHARD_IDS",
                value: ids,
                problem: "needs DISCORD_SHARD_COUNT (the total number of shards) beside it".into(),
            });
        }
        return Ok(None);
    };
    let total = match count.parse::<u32>() {
        Ok(n) if (1..=4096).contains(&n) => n,
        _ => {
            return Err(ConfigError::Invalid {
                var: "DISCORD_SHARD_COUNT",
                value: count,
                problem: "expected the total number of shards, 1 to 4096".into(),
            })
        }
    };
    let Some(ids) = ids else {
        return Ok(Some(Shards {
            first: 0,
            last: total - 1,
            total,
        }));
    };
    let bad = |problem: String| ConfigError::Invalid {
        var: "DISCORD_SHARD_IDS",
        value: ids.clone(),
        problem,
    };
    let (a, b) = match ids.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (ids.trim(), ids.trim()),
    };
    let (Ok(first), Ok(last)) = (a.parse::<u32>(), b.parse::<u32>()) else {
        return Err(bad(
            "expected this process's shards as an inclusive range such as 0-3, or one id".into(),
        ));
    };
    if first > last || last >= total {
        return Err(bad(format!(
            "the range must be ascending and within 0-{} (DISCORD_SHARD_COUNT is {total})",
            total - 1
        )));
    }
    Ok(Some(Shards { first, last, total }))
}

fn parse_snowflake(var: &'static str, value: &str) -> Result<u64, ConfigError> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            value: value.to_string(),
            problem: "expected a Discord id (a positive number)".into(),
        }),
    }
}

fn check_id(var: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            value: value.to_string(),
            problem: "expected an id of letters, digits, '-' or '_'".into(),
        })
    }
}

/// A database URL with any password removed, for messages.
fn redact_db_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparsable>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_map(&map(&[])).unwrap();
        assert_eq!(c.poll_interval, Duration::from_secs(30));
        assert_eq!(c.end_grace, Duration::from_secs(180));
        assert_eq!(c.discord_global_rps, 40);
        assert_eq!(c.database_url.expose(), "sqlite://onair.db");
        assert_eq!(c.http_addr, Some(([127, 0, 0, 1], 9090).into()));
        assert_eq!(c.shards, None, "autosharded by default");
        let off = Config::from_map(&map(&[("HTTP_ADDR", "")])).unwrap();
        assert_eq!(off.http_addr, None, "empty turns the endpoints off");
        assert!(c.jkt48connect.is_none() && c.konbini.is_none());
        assert!(c.kitkot.is_none() && c.realtimekit.is_none());
    }

    #[test]
    fn provider_on_when_key_set() {
        let c = Config::from_map(&map(&[
            ("JKT48CONNECT_API_KEY", "k"),
            ("JKT48CONNECT_URL", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        let j = c.jkt48connect.unwrap();
        assert_eq!(j.base_url.as_str(), "http://127.0.0.1:9/");
        assert_eq!(j.api_key.expose(), "k");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("POLL_INTERVAL_SECS", "soon"),
            ("POLL_INTERVAL_SECS", "0"),
            ("END_GRACE_SECS", "-5"),
            ("DISCORD_GLOBAL_RPS", "1e3"),
            ("DEV_GUILD_ID", "abc"),
            ("DISCORD_API_URL", "not a url"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_URL", "postgresx://h/db"),
            ("HTTP_ADDR", "localhost"),
            ("DISCORD_SHARD_COUNT", "0"),
            ("DISCORD_SHARD_IDS", "0-1"),
            ("HTTP_ADDR", "9090"),
        ] {
            let err = Config::from_map(&map(&[(k, v)])).unwrap_err();
            assert!(err.to_string().starts_with(k), "{err}");
        }
        let err = Config::from_map(&map(&[
            ("JKT48CONNECT_API_KEY", "k"),
            ("JKT48CONNECT_URL", "ftp://x"),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("JKT48CONNECT_URL"), "{err}");
    }

    #[test]
    fn shards_split_between_processes() {
        let shards = |count: &str, ids: Option<&str>| {
            let mut pairs = vec![("DISCORD_SHARD_COUNT", count)];
            if let Some(ids) = ids {
                pairs.push(("DISCORD_SHARD_IDS", ids));
            }
            Config::from_map(&map(&pairs)).map(|c| c.shards)
        };
        let all = Shards {
            first: 0,
            last: 5,
            total: 6,
        };
        assert_eq!(shards("6", None).unwrap(), Some(all));
        assert_eq!(all.count(), 6);
        let mid = Shards {
            first: 2,
            last: 3,
            total: 6,
        };
        assert_eq!(shards("6", Some("2-3")).unwrap(), Some(mid));
        assert_eq!(
            shards("6", Some(" 5 ")).unwrap().map(|s| s.count()),
            Some(1)
        );
        for bad in ["3-2", "4-6", "a-b", "1-", "-1"] {
            let err = shards("6", Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("DISCORD_SHARD_IDS"), "{bad}: {err}");
        }
        let err = shards("5000", None).unwrap_err().to_string();
        assert!(err.starts_with("DISCORD_SHARD_COUNT"), "{err}");
    }

    #[test]
    fn partial_credentials_are_errors() {
        let err = Config::from_map(&map(&[("KITKOT_API_KEY", "a")])).unwrap_err();
        assert!(err.to_string().contains("KITKOT_SESSION_KEY"));
        let err = Config::from_map(&map(&[("CLOUDFLARE_API_TOKEN", "t")])).unwrap_err();
        assert!(err.to_string().contains("CLOUDFLARE_ACCOUNT_ID"));
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = Config::from_map(&map(&[
            ("DISCORD_TOKEN", "tok-SECRET"),
            ("KONBINI_API_KEY", "kon-SECRET"),
        ]))
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }
}
