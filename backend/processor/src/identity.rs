//! The identity map: anonymousId → userId, built by identify and alias.
//!
//! * `identify(userId = U, anonymousId = A)` links A to U.
//! * `alias(previousId = P, userId = U)` links P to U.
//!
//! A link is refused (and reported) when it would merge two users who are both already
//! identified: A already belongs to another user, or P is itself an identified userId. This is
//! PostHog's well-known failure mode, where such merges silently join two people.

use std::collections::{HashMap, HashSet};

use footfall_store::IdentityRow;

/// The outcome of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Nothing to do (A == U).
    Same,
    /// A row to store (new, or a repeat of the current link, which is idempotent).
    Linked(IdentityRow),
    /// Refused; the reason names both users.
    Conflict(String),
}

/// The in-memory map, loaded from the store at start and kept in step with it.
#[derive(Debug, Default, Clone)]
pub struct IdentityMap {
    map: HashMap<(String, String), String>,
    reverse: HashMap<(String, String), Vec<String>>,
    users: HashSet<(String, String)>,
}

impl IdentityMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stored row (at load time, and after a link is stored).
    pub fn apply(&mut self, row: &IdentityRow) {
        let key = (row.project_id.clone(), row.anonymous_id.clone());
        if let Some(old) = self.map.insert(key, row.user_id.clone()) {
            if old == row.user_id {
                return;
            }
            if let Some(v) = self.reverse.get_mut(&(row.project_id.clone(), old)) {
                v.retain(|a| a != &row.anonymous_id);
            }
        }
        self.reverse
            .entry((row.project_id.clone(), row.user_id.clone()))
            .or_default()
            .push(row.anonymous_id.clone());
        self.users
            .insert((row.project_id.clone(), row.user_id.clone()));
    }

    /// Notes that `user` is an identified userId (it was seen on an event).
    pub fn note_user(&mut self, project: &str, user: &str) {
        if !user.is_empty() && !self.users.contains(&(project.to_owned(), user.to_owned())) {
            self.users.insert((project.to_owned(), user.to_owned()));
        }
    }

    /// Decides a link of `anonymous` to `user` at `version`, without applying it.
    pub fn link(&self, project: &str, anonymous: &str, user: &str, version: i64) -> Link {
        if anonymous.is_empty() || user.is_empty() || anonymous == user {
            return Link::Same;
        }
        let key = (project.to_owned(), anonymous.to_owned());
        if let Some(current) = self.map.get(&key) {
            if current != user {
                return Link::Conflict(format!(
                    "{anonymous:?} already belongs to user {current:?}; refusing to merge it into {user:?}"
                ));
            }
        } else if self.users.contains(&key) {
            return Link::Conflict(format!(
                "{anonymous:?} is an identified user; refusing to merge two identified users ({anonymous:?} into {user:?})"
            ));
        }
        Link::Linked(IdentityRow {
            project_id: project.to_owned(),
            anonymous_id: anonymous.to_owned(),
            user_id: user.to_owned(),
            version,
        })
    }

    /// The person an event belongs to.
    pub fn resolve<'a>(&'a self, project: &str, anonymous: &'a str, user: &'a str) -> &'a str {
        if !user.is_empty() {
            return user;
        }
        self.map
            .get(&(project.to_owned(), anonymous.to_owned()))
            .map_or(anonymous, String::as_str)
    }

    /// Every raw id (the person itself and its anonymous ids) that resolves to `person`.
    pub fn ids_of(&self, project: &str, person: &str) -> Vec<String> {
        let mut ids = vec![person.to_owned()];
        if let Some(anons) = self.reverse.get(&(project.to_owned(), person.to_owned())) {
            ids.extend(anons.iter().cloned());
        }
        ids
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linked(map: &mut IdentityMap, a: &str, u: &str) {
        match map.link("p", a, u, 1) {
            Link::Linked(row) => map.apply(&row),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn identify_links_and_resolves() {
        let mut m = IdentityMap::new();
        linked(&mut m, "a1", "u1");
        linked(&mut m, "a2", "u1");
        assert_eq!(m.resolve("p", "a1", ""), "u1");
        assert_eq!(m.resolve("p", "a3", ""), "a3");
        assert_eq!(m.ids_of("p", "u1"), vec!["u1", "a1", "a2"]);
        assert!(matches!(m.link("p", "a1", "u1", 2), Link::Linked(_)));
    }

    #[test]
    fn merging_two_identified_users_is_refused() {
        let mut m = IdentityMap::new();
        linked(&mut m, "a1", "u1");
        let Link::Conflict(reason) = m.link("p", "a1", "u2", 2) else {
            panic!()
        };
        assert!(
            reason.contains("already belongs to user \"u1\""),
            "{reason}"
        );
        m.note_user("p", "u3");
        let Link::Conflict(reason) = m.link("p", "u3", "u1", 3) else {
            panic!()
        };
        assert!(
            reason.contains("refusing to merge two identified users"),
            "{reason}"
        );
    }

    #[test]
    fn projects_do_not_mix() {
        let mut m = IdentityMap::new();
        linked(&mut m, "a1", "u1");
        assert_eq!(m.resolve("other", "a1", ""), "a1");
    }
}
