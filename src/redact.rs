//! Keeping secrets out of what is logged or shown: provider keys travel in
//! query strings (and, for some, in the URL's user info), so a URL is logged
//! without them, and free text (an error's `Display`) loses anything that
//! looks like a URL's query.

/// A URL with its query string and fragment removed, safe to log.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// Remove anything that looks like a URL query string (where keys live).
pub fn strip_urls(text: &str) -> String {
    text.split_whitespace()
        .map(|w| match w.find('?') {
            Some(i) if w.contains("://") => format!("{}?…", &w[..i]),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_query() {
        let u = reqwest::Url::parse("https://x.test/api/live?apikey=SECRET&a=1#f").unwrap();
        assert_eq!(redact_url(&u), "https://x.test/api/live");
    }

    #[test]
    fn strips_query_from_text() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/x?apikey=K)"),
            "error sending request for url (http://h/x?…"
        );
    }
}
