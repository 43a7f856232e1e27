//! The message catalogue: every user-facing string, keyed by id, in
//! English and Indonesian (`locales/<lang>/main.ftl`, Fluent syntax, built
//! into the binary with fluent-templates). No command builds user text
//! inline: it looks its text up here by id ([`t`]). Replies follow the
//! user's Discord locale; announcements the subscription's language.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::Loader;
use unic_langid::LanguageIdentifier;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en-US",
        // No Unicode isolation marks around placeholders: Discord shows them.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages onair speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Id,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Id];

    /// From a Discord locale (`id`, `en-US`, `en-GB`, ...): Indonesian for
    /// `id`, English for everything else.
    pub fn from_locale(locale: &str) -> Lang {
        let l = locale.trim().to_ascii_lowercase();
        if l == "id" || l.starts_with("id-") || l == "indonesian" {
            Lang::Id
        } else {
            Lang::En
        }
    }

    /// The code stored with a subscription and used for Discord localizations.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Id => "id",
        }
    }

    fn langid(self) -> LanguageIdentifier {
        let tag = match self {
            Lang::En => "en-US",
            Lang::Id => "id",
        };
        tag.parse().unwrap_or_default()
    }
}

/// Look up `id` in `lang` and fill its `{ $placeholders }` from `args`.
/// A missing id is logged and shown as the id (never a panic).
pub fn t(lang: Lang, id: &str, args: &[(&str, &(dyn std::fmt::Display + Sync))]) -> String {
    let mut map: HashMap<Cow<'static, str>, FluentValue> = HashMap::new();
    for (k, v) in args {
        let text = v.to_string();
        // Counts select plural forms; everything else stays text (ids must
        // not be reformatted as numbers).
        let value = match (*k, text.parse::<f64>()) {
            ("count", Ok(n)) => FluentValue::from(n),
            _ => FluentValue::from(text),
        };
        map.insert(Cow::Owned((*k).to_string()), value);
    }
    match LOCALES.try_lookup_with_args(&lang.langid(), id, &map) {
        Some(s) => s,
        None => {
            tracing::error!(id, "missing message id in catalogue");
            id.to_string()
        }
    }
}

/// "2 h 5 min" / "2 jam 5 menit": a short human age or duration.
pub fn human_duration(lang: Lang, d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        t(lang, "duration-s", &[("s", &s)])
    } else if s < 3600 {
        t(lang, "duration-min", &[("m", &(s / 60))])
    } else if s < 86_400 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 {
            t(lang, "duration-h", &[("h", &h)])
        } else {
            t(lang, "duration-h-min", &[("h", &h), ("m", &m)])
        }
    } else {
        t(
            lang,
            "duration-d-h",
            &[("d", &(s / 86_400)), ("h", &((s % 86_400) / 3600))],
        )
    }
}

/// "950", "1.2k" / "1.2 rb", "3.4M" / "3.4 jt": a compact count.
pub fn compact_count(lang: Lang, n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 1_000_000 {
        t(lang, "count-k", &[("n", &one_decimal(n as f64 / 1000.0))])
    } else {
        t(
            lang,
            "count-m",
            &[("n", &one_decimal(n as f64 / 1_000_000.0))],
        )
    }
}

fn one_decimal(v: f64) -> String {
    let s = format!("{:.1}", (v * 10.0).floor() / 10.0);
    s.trim_end_matches(".0").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    #[test]
    fn fills_placeholders_in_both_languages() {
        assert_eq!(
            t(Lang::En, "tiktok-not-live", &[("user", &"khaby.lame")]),
            "**@khaby.lame** is not live on TikTok right now."
        );
        assert_eq!(
            t(Lang::Id, "tiktok-not-live", &[("user", &"khaby.lame")]),
            "**@khaby.lame** sedang tidak live di TikTok."
        );
        assert_eq!(t(Lang::En, "no-such-id", &[]), "no-such-id");
        assert_eq!(
            t(Lang::En, "subscriptions-count", &[("count", &1)]),
            "**1 subscription**"
        );
        assert_eq!(
            t(Lang::En, "subscriptions-count", &[("count", &3)]),
            "**3 subscriptions**"
        );
    }

    #[test]
    fn locales() {
        assert_eq!(Lang::from_locale("id"), Lang::Id);
        assert_eq!(Lang::from_locale("en-US"), Lang::En);
        assert_eq!(Lang::from_locale("ja"), Lang::En);
    }

    /// Every id exists in both languages with the same placeholders.
    #[test]
    fn catalogue_is_complete_and_consistent() {
        fn parse(path: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
            let text = std::fs::read_to_string(path).expect("catalogue file");
            let mut out = std::collections::BTreeMap::new();
            let mut current: Option<String> = None;
            for line in text.lines() {
                let starts_entry = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && line.contains(" =");
                if starts_entry {
                    let id = line.split(" =").next().unwrap_or("").trim().to_string();
                    out.insert(id.clone(), BTreeSet::new());
                    current = Some(id);
                } else if line.starts_with('#') || line.trim().is_empty() {
                    current = None;
                    continue;
                }
                if let Some(id) = &current {
                    let mut rest = line;
                    while let Some(i) = rest.find('$') {
                        let name: String = rest[i + 1..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                            .collect();
                        out.get_mut(id).map(|set| set.insert(name.clone()));
                        rest = &rest[i + 1 + name.len()..];
                    }
                }
            }
            out
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/locales");
        let en = parse(&format!("{dir}/en-US/main.ftl"));
        let id = parse(&format!("{dir}/id/main.ftl"));
        let en_ids: BTreeSet<_> = en.keys().collect();
        let id_ids: BTreeSet<_> = id.keys().collect();
        assert_eq!(en_ids, id_ids, "message ids differ between en-US and id");
        for (k, v) in &en {
            assert_eq!(Some(v), id.get(k), "placeholders of `{k}` differ");
        }
        assert!(en.len() > 150, "catalogue parsed ({} ids)", en.len());
        // And the loader renders every id in both languages.
        for (k, placeholders) in &en {
            let values: Vec<String> = placeholders.iter().map(|_| "7".to_string()).collect();
            let args: Vec<(&str, &(dyn std::fmt::Display + Sync))> = placeholders
                .iter()
                .zip(&values)
                .map(|(name, v)| (name.as_str(), v as &(dyn std::fmt::Display + Sync)))
                .collect();
            for lang in Lang::ALL {
                let text = t(lang, k, &args);
                assert_ne!(&text, k, "{k} does not render in {lang:?}");
            }
        }
    }

    /// Every id the code looks up exists in the catalogue.
    #[test]
    fn code_uses_only_known_ids() {
        let root = env!("CARGO_MANIFEST_DIR");
        let en = std::fs::read_to_string(format!("{root}/locales/en-US/main.ftl")).unwrap();
        let known: BTreeSet<&str> = en
            .lines()
            .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim()))
            .collect();
        let mut files = Vec::new();
        for dir in ["src", "src/announce", "commands"] {
            for e in std::fs::read_dir(format!("{root}/{dir}"))
                .unwrap()
                .flatten()
            {
                if e.path().extension().is_some_and(|x| x == "rs")
                    && !e.path().ends_with("messages.rs")
                {
                    files.push(e.path());
                }
            }
        }
        let mut used = 0;
        for f in files {
            // Without whitespace, so calls that rustfmt split over lines match.
            let text: String = std::fs::read_to_string(&f)
                .unwrap()
                .split_whitespace()
                .collect();
            for marker in ["t(lang,\"", "t(Lang::En,\"", "t(Lang::Id,\""] {
                for part in text.split(marker).skip(1) {
                    let id = part.split('"').next().unwrap_or("");
                    used += 1;
                    assert!(
                        known.contains(id),
                        "{}: unknown message id `{id}`",
                        f.display()
                    );
                }
            }
        }
        assert!(used > 100, "found {used} lookups");
    }

    #[test]
    fn durations_and_counts() {
        assert_eq!(human_duration(Lang::En, Duration::from_secs(45)), "45 s");
        assert_eq!(human_duration(Lang::En, Duration::from_secs(125)), "2 min");
        assert_eq!(
            human_duration(Lang::En, Duration::from_secs(7500)),
            "2 h 5 min"
        );
        assert_eq!(
            human_duration(Lang::Id, Duration::from_secs(7500)),
            "2 jam 5 menit"
        );
        assert_eq!(human_duration(Lang::En, Duration::from_secs(7200)), "2 h");
        assert_eq!(compact_count(Lang::En, 950), "950");
        assert_eq!(compact_count(Lang::En, 1250), "1.2k");
        assert_eq!(compact_count(Lang::Id, 1250), "1.2 rb");
        assert_eq!(compact_count(Lang::En, 15_000), "15k");
        assert_eq!(compact_count(Lang::En, 3_456_789), "3.4M");
        assert_eq!(compact_count(Lang::Id, 3_456_789), "3.4 jt");
    }
}
