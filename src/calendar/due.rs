//! When a calendar item is posted, and to whom. Pure.
//!
//! - a show's reminder: at its start minus each lead the subscription
//!   chose (default [`DEFAULT_LEAD`]); one that fell due while the bot was
//!   down goes out late only while the show has not started;
//! - the day's shows: at the chosen hour WIB (default
//!   [`DEFAULT_TODAY_HOUR`]), that day only;
//! - a birthday: at 00:00 WIB of her day, that day only; the month's list
//!   on the 1st, that day only;
//! - news and events: each item first listed after the subscription was
//!   made, never one of the first read (subscribing never floods a channel
//!   with the backlog), within [`NEWS_FRESH_FOR`] of being listed.
//!
//! Nothing is posted about an item that dropped out of its list.

use chrono::{DateTime, Duration, Utc};

use super::items::{
    KIND_BIRTHDAY, KIND_BIRTHDAY_MONTH, KIND_EVENT, KIND_NEWS, KIND_SHOW, KIND_TODAY,
};
use crate::store::{CalendarChoice, CalendarItem, Feed, Subscription};

/// A show reminder's lead when the admin chose none (minutes).
pub const DEFAULT_LEAD: u32 = 15;
/// The daily post's hour (WIB) when the admin chose none: noon, as fans'
/// bots post the day's schedule.
pub const DEFAULT_TODAY_HOUR: u8 = 12;
/// A news item or event not posted within this long of being listed is
/// not posted (the bot was down for days).
pub const NEWS_FRESH_FOR: Duration = Duration::days(2);

/// One post of an item: its slot (a show's lead in minutes, the daily
/// post's hour; empty for the rest), when it falls due, and until when it
/// is still worth sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub slot: String,
    pub due: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// The feed a subscription must follow to receive items of `kind`.
pub fn feed_of(kind: &str) -> Option<Feed> {
    match kind {
        KIND_SHOW => Some(Feed::Theater),
        KIND_TODAY => Some(Feed::Today),
        KIND_BIRTHDAY | KIND_BIRTHDAY_MONTH => Some(Feed::Birthdays),
        KIND_NEWS => Some(Feed::News),
        KIND_EVENT => Some(Feed::Events),
        _ => None,
    }
}

/// The leads a theater subscription chose (its default when none).
pub fn leads(choice: &CalendarChoice) -> Vec<u32> {
    if choice.leads.is_empty() {
        vec![DEFAULT_LEAD]
    } else {
        choice.leads.clone()
    }
}

/// The moments `sub` wants a post of `item` (none when it does not follow
/// the item's feed).
pub fn moments(item: &CalendarItem, sub: &Subscription) -> Vec<Moment> {
    let Some(choice) = &sub.calendar else {
        return Vec::new();
    };
    if sub.disabled_reason.is_some()
        || item.unlisted_at.is_some()
        || feed_of(&item.kind) != Some(choice.feed)
    {
        return Vec::new();
    }
    let day = Duration::days(1);
    match item.kind.as_str() {
        KIND_SHOW => {
            let Some(start) = item.at else {
                return Vec::new();
            };
            leads(choice)
                .into_iter()
                .map(|lead| Moment {
                    slot: lead.to_string(),
                    due: start - Duration::minutes(i64::from(lead)),
                    until: start,
                })
                .collect()
        }
        KIND_TODAY => {
            let Some(midnight) = item.at else {
                return Vec::new();
            };
            let hour = choice.hour.unwrap_or(DEFAULT_TODAY_HOUR).min(23);
            vec![Moment {
                slot: hour.to_string(),
                due: midnight + Duration::hours(i64::from(hour)),
                until: midnight + day,
            }]
        }
        KIND_BIRTHDAY_MONTH if !choice.monthly => Vec::new(),
        KIND_BIRTHDAY | KIND_BIRTHDAY_MONTH => match item.at {
            Some(midnight) => vec![Moment {
                slot: String::new(),
                due: midnight,
                until: midnight + day,
            }],
            None => Vec::new(),
        },
        KIND_NEWS | KIND_EVENT if item.seed || item.first_seen < sub.created_at => Vec::new(),
        KIND_NEWS | KIND_EVENT => vec![Moment {
            slot: String::new(),
            due: item.first_seen,
            until: item.first_seen + NEWS_FRESH_FOR,
        }],
        _ => Vec::new(),
    }
}

/// Where a post goes: (subscription, guild, channel).
pub type Target = (i64, u64, u64);

/// The posts of `item` due at `now`: for each slot, the subscriptions it
/// goes to.
pub fn due_now(
    item: &CalendarItem,
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Vec<(String, Vec<Target>)> {
    let mut out: Vec<(String, Vec<Target>)> = Vec::new();
    for sub in subs {
        for m in moments(item, sub) {
            if m.due <= now && now < m.until {
                let target = (sub.id, sub.guild_id, sub.channel_id);
                match out.iter_mut().find(|(slot, _)| *slot == m.slot) {
                    Some((_, targets)) => targets.push(target),
                    None => out.push((m.slot, vec![target])),
                }
            }
        }
    }
    out
}

/// The next moment after `now` any of `items` falls due for `subs`.
pub fn next_due(
    items: &[CalendarItem],
    subs: &[Subscription],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    items
        .iter()
        .flat_map(|i| subs.iter().flat_map(move |s| moments(i, s)))
        .map(|m| m.due)
        .filter(|due| *due > now)
        .min()
}

/// Until when a delivery of `item` is still worth posting (every slot of
/// an item ends together: a show's reminders at its start).
pub fn post_until(item: &CalendarItem) -> Option<DateTime<Utc>> {
    let day = Duration::days(1);
    match item.kind.as_str() {
        KIND_SHOW => item.at,
        KIND_TODAY | KIND_BIRTHDAY | KIND_BIRTHDAY_MONTH => item.at.map(|t| t + day),
        KIND_NEWS | KIND_EVENT => Some(item.first_seen + NEWS_FRESH_FOR),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    fn item(kind: &str, at_min: i64) -> CalendarItem {
        CalendarItem {
            id: 1,
            key: format!("{kind}:1"),
            kind: kind.into(),
            at: Some(at(at_min)),
            data: "{}".into(),
            seed: false,
            first_seen: at(0),
            listed_at: at(0),
            unlisted_at: None,
        }
    }

    fn sub(id: i64, choice: CalendarChoice) -> Subscription {
        let mut s = Subscription::sample(100 + id as u64);
        s.id = id;
        s.created_at = at(-10);
        s.calendar = Some(choice);
        s
    }

    fn theater(leads: &[u32]) -> CalendarChoice {
        CalendarChoice {
            leads: leads.to_vec(),
            ..CalendarChoice::of(Feed::Theater)
        }
    }

    #[test]
    fn a_show_is_reminded_at_each_lead_and_never_after_it_started() {
        let show = item(KIND_SHOW, 120);
        let both = sub(1, theater(&[60, 15]));
        let default = sub(2, theater(&[]));
        let subs = [both, default];
        assert!(due_now(&show, &subs, at(59)).is_empty());
        assert_eq!(
            due_now(&show, &subs, at(60)),
            vec![("60".into(), vec![(1, 1, 101)])]
        );
        // Both due (a late start of the bot): each slot to its channels.
        assert_eq!(
            due_now(&show, &subs, at(110)),
            vec![
                ("60".into(), vec![(1, 1, 101)]),
                ("15".into(), vec![(1, 1, 101), (2, 1, 102)])
            ]
        );
        assert!(due_now(&show, &subs, at(120)).is_empty(), "it started");
        assert_eq!(
            next_due(std::slice::from_ref(&show), &subs, at(61)),
            Some(at(105))
        );
        assert_eq!(post_until(&show), Some(at(120)));
        let mut gone = show;
        gone.unlisted_at = Some(at(50));
        assert!(due_now(&gone, &subs, at(110)).is_empty());
    }

    #[test]
    fn the_days_shows_birthdays_and_the_month_fall_on_their_wib_day() {
        let today = item(KIND_TODAY, 0);
        let noon = sub(1, CalendarChoice::of(Feed::Today));
        let seven = sub(
            2,
            CalendarChoice {
                hour: Some(7),
                ..CalendarChoice::of(Feed::Today)
            },
        );
        assert_eq!(
            due_now(&today, &[noon.clone(), seven.clone()], at(7 * 60)),
            vec![("7".into(), vec![(2, 1, 102)])]
        );
        assert_eq!(
            due_now(&today, std::slice::from_ref(&noon), at(12 * 60)).len(),
            1
        );
        assert!(
            due_now(&today, &[noon], at(24 * 60)).is_empty(),
            "the day is over"
        );

        let birthday = item(KIND_BIRTHDAY, 0);
        let month = item(KIND_BIRTHDAY_MONTH, 0);
        let plain = sub(1, CalendarChoice::of(Feed::Birthdays));
        let monthly = sub(
            2,
            CalendarChoice {
                monthly: true,
                ..CalendarChoice::of(Feed::Birthdays)
            },
        );
        let subs = [plain, monthly];
        assert!(due_now(&birthday, &subs, at(-1)).is_empty());
        assert_eq!(due_now(&birthday, &subs, at(0))[0].1.len(), 2);
        assert_eq!(
            due_now(&month, &subs, at(0)),
            vec![(String::new(), vec![(2, 1, 102)])]
        );
        assert!(due_now(&birthday, &subs, at(24 * 60)).is_empty());
        // A theater subscription gets no birthday.
        assert!(due_now(&birthday, &[sub(3, theater(&[]))], at(0)).is_empty());
    }

    #[test]
    fn news_goes_to_subscriptions_older_than_it_and_never_from_the_first_read() {
        let mut news = item(KIND_NEWS, 0);
        news.first_seen = at(5);
        let before = sub(1, CalendarChoice::of(Feed::News));
        let mut after = sub(2, CalendarChoice::of(Feed::News));
        after.created_at = at(6);
        assert_eq!(
            due_now(&news, &[before.clone(), after], at(5)),
            vec![(String::new(), vec![(1, 1, 101)])]
        );
        assert!(due_now(&news, std::slice::from_ref(&before), at(5 + 3 * 24 * 60)).is_empty());
        news.seed = true;
        assert!(due_now(&news, &[before], at(5)).is_empty());
    }
}
