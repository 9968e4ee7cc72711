//! Who holds a token, remembered for a short while: every API request
//! names its caller by token, and the answer rarely changes.
//!
//! Entries live [`TTL`] at most; every change of a user (a new user, a
//! role, a token) made through this store forgets them all at once, so on
//! one instance a replaced token stops working at once. Another instance
//! sharing a PostgreSQL store sees such a change within [`TTL`]. Only
//! found users are kept: an unknown token is looked up every time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rows::User;

/// How long a looked-up token is trusted without asking the store again.
pub(super) const TTL: Duration = Duration::from_secs(2);

/// The most tokens kept (beyond it the cache starts over).
const MAX_ENTRIES: usize = 10_000;

/// Token hash → (user, when looked up).
type Entries = HashMap<String, (User, Instant)>;

/// The remembered tokens, and how many times they were cleared.
#[derive(Debug, Default)]
pub(super) struct UserCache {
    entries: Mutex<(Entries, u64)>,
}

/// When a lookup began: what [`UserCache::put`] needs to know that no
/// change came between the query and the answer.
pub(super) struct Asked {
    at: Instant,
    generation: u64,
}

impl UserCache {
    /// The user of `hash` if looked up less than [`TTL`] ago.
    pub(super) fn get(&self, hash: &str) -> Option<User> {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .0
            .get(hash)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(u, _)| u.clone())
    }

    /// Marks the start of a lookup in the store.
    pub(super) fn ask(&self) -> Asked {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Asked {
            at: Instant::now(),
            generation: guard.1,
        }
    }

    /// Remembers the user of `hash` as the lookup begun at `asked` found
    /// it, unless a user changed since (the answer may predate the change).
    pub(super) fn put(&self, hash: &str, user: &User, asked: Asked) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if guard.1 != asked.generation {
            return;
        }
        if guard.0.len() >= MAX_ENTRIES {
            guard.0.clear();
        }
        guard.0.insert(hash.to_string(), (user.clone(), asked.at));
    }

    /// Forgets every entry (a user was added or changed).
    pub(super) fn clear(&self) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.clear();
        guard.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Role;

    fn alice() -> User {
        User {
            name: "alice".into(),
            role: Role::Submitter,
            created_at: 1,
        }
    }

    #[test]
    fn entries_expire_and_clear_forgets_them() {
        let c = UserCache::default();
        assert!(c.get("h").is_none());
        c.put("h", &alice(), c.ask());
        assert_eq!(c.get("h").map(|u| u.name), Some("alice".to_string()));
        c.clear();
        assert!(c.get("h").is_none());
        // A lookup that began before a change is not remembered.
        let asked = c.ask();
        c.clear();
        c.put("h", &alice(), asked);
        assert!(c.get("h").is_none());
        if let Some(old) = Instant::now().checked_sub(TTL + Duration::from_millis(1)) {
            let mut asked = c.ask();
            asked.at = old;
            c.put("h", &alice(), asked);
            assert!(
                c.get("h").is_none(),
                "an entry older than the TTL is not used"
            );
        }
    }
}
