//! Query history, kept in the browser's localStorage so it survives reloads.

const KEY: &str = "omendb-console.history";
/// Entries kept; the oldest go first.
pub const LIMIT: usize = 200;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The saved history, oldest first.
pub fn load() -> Vec<String> {
    storage()
        .and_then(|s| s.get_item(KEY).ok()?)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// `entries` with `sql` appended (unless it repeats the newest entry), trimmed to [`LIMIT`].
pub fn push(mut entries: Vec<String>, sql: &str) -> Vec<String> {
    let sql = sql.trim();
    if sql.is_empty() || entries.last().is_some_and(|last| last == sql) {
        return entries;
    }
    entries.push(sql.to_string());
    let excess = entries.len().saturating_sub(LIMIT);
    entries.drain(..excess);
    entries
}

pub fn save(entries: &[String]) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(entries)) {
        let _ = storage.set_item(KEY, &text);
    }
}

/// Moving through the history from the editor: `None` is the text being written.
pub fn step(position: Option<usize>, len: usize, older: bool) -> Option<usize> {
    match (position, older) {
        (_, _) if len == 0 => None,
        (None, true) => Some(len - 1),
        (Some(i), true) => Some(i.saturating_sub(1)),
        (None, false) => None,
        (Some(i), false) if i + 1 < len => Some(i + 1),
        (Some(_), false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_skip_repeats_and_blanks_and_keep_the_newest() {
        let h = push(push(push(Vec::new(), "a"), " a "), "  ");
        assert_eq!(h, vec!["a"]);
        let mut h = Vec::new();
        for i in 0..LIMIT + 5 {
            h = push(h, &i.to_string());
        }
        assert_eq!(h.len(), LIMIT);
        assert_eq!(h[0], "5");
    }

    #[test]
    fn stepping_goes_back_and_returns_to_the_draft() {
        assert_eq!(step(None, 3, true), Some(2));
        assert_eq!(step(Some(0), 3, true), Some(0));
        assert_eq!(step(Some(1), 3, false), Some(2));
        assert_eq!(step(Some(2), 3, false), None);
        assert_eq!(step(None, 0, true), None);
    }
}
