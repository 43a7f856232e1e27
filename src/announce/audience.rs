//! The isolation rule, in one place: which subscriptions may receive a
//! stream. Servers do not trust each other, so a source one server chose
//! (a TikTok username, a RealtimeKit livestream id) reaches only the
//! subscriptions that name it. Catch-all, platform and member filters
//! cover the curated sources: JKT48Connect (IDN Live, Showroom, YouTube),
//! and the operator's RealtimeKit livestreams when the operator opts in
//! (`REALTIMEKIT_PUBLIC=true`). A member filter matches curated identities
//! only (a JKT48Connect member's name, handle or room), never a display
//! name a third party controls. Pure functions.

use crate::live::{LiveStream, Platform};
use crate::store::Subscription;
use crate::text::fold_name;

/// What the operator lets reach catch-all subscriptions beyond the
/// curated sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// `REALTIMEKIT_PUBLIC`: the operator's RealtimeKit livestreams reach
    /// catch-all and platform subscriptions too, not only those naming them.
    pub realtimekit_public: bool,
}

/// Whether a platform's streams come from a curated list (JKT48Connect's
/// members), not from a source a server chose.
pub fn is_curated(platform: Platform) -> bool {
    matches!(
        platform,
        Platform::Idn | Platform::Showroom | Platform::Youtube
    )
}

/// Does this subscription receive this stream?
pub fn matches(sub: &Subscription, stream: &LiveStream, reach: Reach) -> bool {
    // Disabled, or following a calendar feed rather than lives.
    if sub.disabled_reason.is_some() || sub.calendar.is_some() {
        return false;
    }
    let names_a_source = sub.tiktok.is_some() || sub.realtimekit_id.is_some();
    let source_ok = match stream.platform {
        Platform::Tiktok => sub
            .tiktok
            .as_deref()
            .is_some_and(|u| stream.key.eq_ignore_ascii_case(u)),
        Platform::Realtimekit => match &sub.realtimekit_id {
            Some(id) => stream.key == *id,
            None => !names_a_source && reach.realtimekit_public,
        },
        Platform::Idn | Platform::Showroom | Platform::Youtube => !names_a_source,
    };
    if !source_ok {
        return false;
    }
    if sub.platform.is_some_and(|p| p != stream.platform) {
        return false;
    }
    match &sub.member {
        // A subscription that names its source already chose the account;
        // its member filter is never compared with a name the account's
        // owner sets (`/subscribe` refuses the pair; older rows ignore it).
        Some(_) if names_a_source => true,
        Some(member) => is_curated(stream.platform) && is_member(member, stream),
        None => true,
    }
}

/// A curated stream's member is `member`: her name, handle or room key,
/// compared folded (NFKC, case, invisible characters).
fn is_member(member: &str, stream: &LiveStream) -> bool {
    let want = fold_name(member);
    if want.is_empty() {
        return false;
    }
    fold_name(&stream.name) == want
        || stream
            .handle
            .as_deref()
            .is_some_and(|h| fold_name(h) == want)
        || fold_name(&stream.key) == want
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announce::message::tests::{fritzy, sub};

    const OPEN: Reach = Reach {
        realtimekit_public: true,
    };

    #[test]
    fn filters_match_curated_streams() {
        let s = fritzy();
        assert!(matches(&sub(), &s, Reach::default()));
        let mut f = sub();
        f.platform = Some(Platform::Showroom);
        assert!(!matches(&f, &s, Reach::default()));
        f.platform = Some(Platform::Idn);
        f.member = Some("fritzy".into());
        assert!(matches(&f, &s, Reach::default()));
        f.member = Some("JKT48_Fritzy".into());
        assert!(matches(&f, &s, Reach::default()), "handle matches too");
        f.member = Some("Ｆｒｉ\u{200B}ｔｚｙ".into());
        assert!(matches(&f, &s, Reach::default()), "compared NFKC-folded");
        f.member = Some("Fritz".into());
        assert!(
            !matches(&f, &s, Reach::default()),
            "an exact name, not a prefix"
        );
        let mut d = sub();
        d.disabled_reason = Some("gone".into());
        assert!(!matches(&d, &s, Reach::default()));
    }

    #[test]
    fn a_calendar_subscription_receives_no_live() {
        let mut cal = sub();
        cal.calendar = Some(crate::store::CalendarChoice::of(crate::store::Feed::News));
        assert!(matches(&sub(), &fritzy(), Reach::default()));
        assert!(!matches(&cal, &fritzy(), Reach::default()));
    }

    #[test]
    fn a_tiktok_stream_reaches_only_subscriptions_naming_its_username() {
        let mut x = LiveStream::new(Platform::Tiktok, "anyaccount", "Fritzy");
        x.handle = Some("fritzy".into());
        let mut names_it = sub();
        names_it.tiktok = Some("AnyAccount".into());
        names_it.platform = Some(Platform::Tiktok);
        assert!(matches(&names_it, &x, Reach::default()));
        assert!(matches(&names_it, &x, OPEN));

        let catch_all = sub();
        let mut platform = sub();
        platform.platform = Some(Platform::Tiktok);
        let mut member = sub();
        member.member = Some("Fritzy".into());
        let mut other_user = sub();
        other_user.tiktok = Some("someoneelse".into());
        for (what, s) in [
            ("catch-all", catch_all),
            ("platform:TikTok", platform),
            ("member:Fritzy", member),
            ("another username", other_user),
        ] {
            assert!(!matches(&s, &x, Reach::default()), "{what}");
            assert!(
                !matches(&s, &x, OPEN),
                "{what} (opt-in is for RealtimeKit only)"
            );
        }
        // A subscription naming a TikTok user gets no curated streams.
        assert!(!matches(&names_it, &fritzy(), OPEN));
    }

    #[test]
    fn a_realtimekit_livestream_reaches_catch_alls_only_with_the_opt_in() {
        let ls = LiveStream::new(Platform::Realtimekit, "ls-1", "Fritzy");
        let mut names_it = sub();
        names_it.realtimekit_id = Some("ls-1".into());
        assert!(matches(&names_it, &ls, Reach::default()));
        let mut names_other = sub();
        names_other.realtimekit_id = Some("ls-2".into());
        assert!(!matches(&names_other, &ls, OPEN));

        let catch_all = sub();
        assert!(!matches(&catch_all, &ls, Reach::default()));
        assert!(matches(&catch_all, &ls, OPEN));
        let mut platform = sub();
        platform.platform = Some(Platform::Realtimekit);
        assert!(!matches(&platform, &ls, Reach::default()));
        assert!(matches(&platform, &ls, OPEN));
        let mut member = sub();
        member.member = Some("Fritzy".into());
        assert!(
            !matches(&member, &ls, OPEN),
            "a livestream's name is not a curated identity"
        );
        let mut tiktok = sub();
        tiktok.tiktok = Some("fritzy".into());
        assert!(!matches(&tiktok, &ls, OPEN));
    }

    #[test]
    fn a_named_source_ignores_a_member_filter() {
        let x = LiveStream::new(Platform::Tiktok, "anyaccount", "Not the member");
        let mut s = sub();
        s.tiktok = Some("anyaccount".into());
        s.member = Some("Fritzy".into());
        assert!(matches(&s, &x, Reach::default()));
    }
}
