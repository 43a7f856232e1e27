//! Start-up either works or exits: the setup steps that talk to Discord
//! (command registration) retry transient failures with capped backoff for
//! a bounded time, and a refusal (4xx) is final and explained, naming the
//! command and the field Discord refused. The caller stops the process on
//! any error here, so a supervisor can restart it; nothing stays up deaf.

use std::future::Future;
use std::time::Duration;

use poise::serenity_prelude as serenity;

use crate::backoff::Budget;

/// What one failed setup attempt means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 5xx, 429, timeout, connection error: try again after a backoff.
    Retry(String),
    /// Discord refused the request (4xx): retrying will not change that.
    Fatal(String),
}

/// First wait between setup attempts; doubles (with jitter) up to
/// [`MAX_BACKOFF`], within the start-up budget.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Classify a serenity error from a registration request. `commands` are
/// the registered command names in the order they were sent (Discord's
/// error paths index into that array).
pub fn classify(error: &serenity::Error, commands: &[String]) -> Attempt {
    use serenity::HttpError;
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            if status >= 500 || status == 429 || status == 408 {
                Attempt::Retry(format!("HTTP {status} from Discord"))
            } else {
                let fields: Vec<(String, String)> = r
                    .error
                    .errors
                    .iter()
                    .map(|e| (e.path.clone(), e.message.clone()))
                    .collect();
                Attempt::Fatal(describe_refusal(
                    status,
                    r.error.code,
                    &r.error.message,
                    &fields,
                    commands,
                ))
            }
        }
        serenity::Error::Http(HttpError::Request(e)) => {
            Attempt::Retry(format!("could not reach Discord: {}", redact(e)))
        }
        serenity::Error::Io(e) => Attempt::Retry(format!("I/O error: {e}")),
        other => Attempt::Fatal(other.to_string()),
    }
}

fn redact(e: &reqwest::Error) -> String {
    // reqwest::Error::without_url needs ownership; describe by kind.
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// "Discord refused the command registration (HTTP 400, code 50035: Invalid
/// Form Body): /live, option 0, field `description`: Must be between 1 and
/// 100 in length."
pub fn describe_refusal(
    status: u16,
    code: isize,
    message: &str,
    fields: &[(String, String)],
    commands: &[String],
) -> String {
    let mut out =
        format!("Discord refused the command registration (HTTP {status}, code {code}: {message})");
    for (path, msg) in fields.iter().take(5) {
        out.push_str("; ");
        out.push_str(&describe_path(path, commands));
        out.push_str(": ");
        out.push_str(msg);
    }
    out
}

/// `0.options.1.description` → "/live, options.1, field `description`".
fn describe_path(path: &str, commands: &[String]) -> String {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let command = first
        .parse::<usize>()
        .ok()
        .and_then(|i| commands.get(i))
        .map(|n| format!("command /{n}"));
    let (head, field) = match rest.split_last() {
        Some((field, head)) => (head.join("."), Some(*field)),
        None => (String::new(), None),
    };
    let mut out = command.unwrap_or_else(|| format!("`{first}`"));
    if !head.is_empty() {
        out.push_str(&format!(", {head}"));
    }
    if let Some(f) = field {
        out.push_str(&format!(", field `{f}`"));
    }
    out
}

/// Run `step` until it succeeds, a failure is fatal, or `budget` has
/// passed (then the last transient error is returned, with the count).
pub async fn with_retries<T, F, Fut>(what: &str, budget: Duration, mut step: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    let mut budget = Budget::new(budget, FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        match step().await {
            Ok(v) => {
                if budget.failures > 0 {
                    tracing::info!(
                        failures = budget.failures,
                        "{what}: succeeded after retrying"
                    );
                }
                return Ok(v);
            }
            Err(Attempt::Fatal(e)) => return Err(format!("{what} failed: {e}")),
            Err(Attempt::Retry(e)) => match budget.next_wait() {
                Some(wait) => {
                    tracing::warn!(failures = budget.failures, error = %e, ?wait, "{what} failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                None => {
                    return Err(format!(
                        "{what} failed {} times in {:.0?} (last: {e}); giving up",
                        budget.failures,
                        budget.elapsed()
                    ))
                }
            },
        }
    }
}

/// Where a set of commands is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Guild(u64),
}

/// Pure: which commands go where. The everyday commands go globally (or to
/// the dev guild only, when one is set); the operator's commands go only to
/// the operator guilds, and nowhere when there are none. A guild that is
/// both gets one set with both (a guild's PUT replaces all its commands).
pub fn registration_plan(
    names: &[String],
    operator_commands: &[&str],
    dev_guild: Option<u64>,
    operator_guilds: &[u64],
) -> Vec<(Scope, Vec<usize>)> {
    let (ops, everyday): (Vec<usize>, Vec<usize>) =
        (0..names.len()).partition(|&i| operator_commands.contains(&names[i].as_str()));
    let mut plan: Vec<(Scope, Vec<usize>)> = vec![(
        dev_guild.map(Scope::Guild).unwrap_or(Scope::Global),
        everyday,
    )];
    let mut guilds = operator_guilds.to_vec();
    guilds.sort_unstable();
    guilds.dedup();
    for g in guilds {
        match plan.iter_mut().find(|(s, _)| *s == Scope::Guild(g)) {
            Some((_, set)) => set.extend(ops.iter().copied()),
            None => plan.push((Scope::Guild(g), ops.clone())),
        }
    }
    plan
}

/// A command's registration body for `scope`: where a command may be
/// installed (`integration_types`) and used (`contexts`) is only for
/// globally-scoped commands; a guild's commands are that guild's.
pub fn scoped(mut body: serde_json::Value, scope: Scope) -> serde_json::Value {
    if let (Scope::Guild(_), Some(o)) = (scope, body.as_object_mut()) {
        o.remove("integration_types");
        o.remove("contexts");
    }
    body
}

/// Register `commands` by [`registration_plan`], each scope with retries.
pub async fn register_commands<U, E>(
    ctx: &serenity::Context,
    commands: &[poise::Command<U, E>],
    operator_commands: &[&str],
    dev_guild: Option<u64>,
    operator_guilds: &[u64],
    budget: Duration,
) -> Result<(), String> {
    let names: Vec<String> = commands.iter().map(|c| c.name.to_string()).collect();
    let bodies: Vec<serde_json::Value> = poise::builtins::create_application_commands(commands)
        .iter()
        .map(|b| serde_json::to_value(b).unwrap_or_default())
        .collect();
    for (scope, set) in registration_plan(&names, operator_commands, dev_guild, operator_guilds) {
        let bodies: Vec<serde_json::Value> = set
            .iter()
            .map(|&i| scoped(bodies[i].clone(), scope))
            .collect();
        let set_names: Vec<String> = set.iter().map(|&i| names[i].clone()).collect();
        with_retries("command registration", budget, || {
            let bodies = &bodies;
            let names = &set_names;
            async move {
                let result = match scope {
                    Scope::Guild(g) => ctx
                        .http
                        .create_guild_commands(serenity::GuildId::new(g), bodies)
                        .await
                        .map(|_| ()),
                    Scope::Global => ctx.http.create_global_commands(bodies).await.map(|_| ()),
                };
                result.map_err(|e| classify(&e, names))
            }
        })
        .await?;
        tracing::debug!(?scope, commands = ?set_names, "commands registered");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_commands_only_in_operator_guilds() {
        let names: Vec<String> = ["live", "stream", "help"].map(String::from).to_vec();
        let ops = ["stream"];
        assert_eq!(
            registration_plan(&names, &ops, None, &[]),
            vec![(Scope::Global, vec![0, 2])]
        );
        assert_eq!(
            registration_plan(&names, &ops, None, &[7, 5, 7]),
            vec![
                (Scope::Global, vec![0, 2]),
                (Scope::Guild(5), vec![1]),
                (Scope::Guild(7), vec![1])
            ]
        );
        assert_eq!(
            registration_plan(&names, &ops, Some(5), &[5, 9]),
            vec![(Scope::Guild(5), vec![0, 2, 1]), (Scope::Guild(9), vec![1])]
        );
        assert_eq!(
            registration_plan(&names, &ops, Some(5), &[]),
            vec![(Scope::Guild(5), vec![0, 2])]
        );
    }

    #[test]
    fn refusal_names_command_and_field() {
        let names = vec!["live".to_string(), "tiktok".to_string()];
        let s = describe_refusal(
            400,
            50035,
            "Invalid Form Body",
            &[(
                "1.options.0.description".into(),
                "Must be between 1 and 100 in length.".into(),
            )],
            &names,
        );
        assert!(s.contains("HTTP 400"), "{s}");
        assert!(s.contains("50035"), "{s}");
        assert!(s.contains("command /tiktok"), "{s}");
        assert!(s.contains("options.0"), "{s}");
        assert!(s.contains("field `description`"), "{s}");
        assert!(s.contains("Must be between 1 and 100"), "{s}");
        // a path that is not an index stays as Discord wrote it
        let s = describe_refusal(403, 50001, "Missing Access", &[], &names);
        assert!(s.contains("Missing Access") && s.contains("403"), "{s}");
    }

    #[tokio::test]
    async fn retries_transient_until_success_and_stops_on_fatal() {
        let mut n = 0;
        let r: Result<u32, String> = with_retries("step", Duration::from_secs(10), || {
            n += 1;
            let k = n;
            async move {
                if k < 3 {
                    Err(Attempt::Retry("502".into()))
                } else {
                    Ok(k)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(3));

        let mut n = 0;
        let r: Result<(), String> = with_retries("step", Duration::from_secs(10), || {
            n += 1;
            async { Err(Attempt::Fatal("400".into())) }
        })
        .await;
        assert_eq!(n, 1, "a refusal is not retried");
        assert!(r.unwrap_err().contains("400"));
    }

    #[tokio::test]
    async fn gives_up_after_the_budget() {
        let mut n = 0;
        let started = tokio::time::Instant::now();
        let r: Result<(), String> = with_retries("step", Duration::from_secs(2), || {
            n += 1;
            async { Err(Attempt::Retry("500".into())) }
        })
        .await;
        let e = r.unwrap_err();
        assert!(e.contains("giving up") && e.contains("500"), "{e}");
        assert!(n >= 2, "retried before giving up ({n})");
        assert!(started.elapsed() <= Duration::from_secs(3));
    }
}
