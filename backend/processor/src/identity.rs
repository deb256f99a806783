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
///
/// Keyed by project, then by id, so that a lookup borrows its `&str`s: with `(project, id)` tuple
/// keys every [`IdentityMap::resolve`] allocated both strings, and it is called for every event
/// the processor reads back to sessionize.
#[derive(Debug, Default, Clone)]
pub struct IdentityMap {
    projects: HashMap<String, ProjectIds>,
}

/// One project's part of the [`IdentityMap`].
#[derive(Debug, Default, Clone)]
struct ProjectIds {
    /// anonymousId → userId.
    map: HashMap<String, String>,
    /// userId → its anonymousIds.
    reverse: HashMap<String, Vec<String>>,
    /// Every userId seen, on an event or in a link.
    users: HashSet<String>,
}

impl IdentityMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn project(&self, project: &str) -> Option<&ProjectIds> {
        self.projects.get(project)
    }

    fn project_mut(&mut self, project: &str) -> &mut ProjectIds {
        if !self.projects.contains_key(project) {
            self.projects
                .insert(project.to_owned(), ProjectIds::default());
        }
        self.projects
            .get_mut(project)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Adds a stored row (at load time, and after a link is stored).
    pub fn apply(&mut self, row: &IdentityRow) {
        let ids = self.project_mut(&row.project_id);
        if let Some(old) = ids
            .map
            .insert(row.anonymous_id.clone(), row.user_id.clone())
        {
            if old == row.user_id {
                return;
            }
            if let Some(v) = ids.reverse.get_mut(&old) {
                v.retain(|a| a != &row.anonymous_id);
            }
        }
        ids.reverse
            .entry(row.user_id.clone())
            .or_default()
            .push(row.anonymous_id.clone());
        if !ids.users.contains(&row.user_id) {
            ids.users.insert(row.user_id.clone());
        }
    }

    /// Notes that `user` is an identified userId (it was seen on an event).
    pub fn note_user(&mut self, project: &str, user: &str) {
        if user.is_empty()
            || self
                .project(project)
                .is_some_and(|ids| ids.users.contains(user))
        {
            return;
        }
        self.project_mut(project).users.insert(user.to_owned());
    }

    /// Decides a link of `anonymous` to `user` at `version`, without applying it.
    pub fn link(&self, project: &str, anonymous: &str, user: &str, version: i64) -> Link {
        if anonymous.is_empty() || user.is_empty() || anonymous == user {
            return Link::Same;
        }
        let ids = self.project(project);
        if let Some(current) = ids.and_then(|ids| ids.map.get(anonymous)) {
            if current != user {
                return Link::Conflict(format!(
                    "{anonymous:?} already belongs to user {current:?}; refusing to merge it into {user:?}"
                ));
            }
        } else if ids.is_some_and(|ids| ids.users.contains(anonymous)) {
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
        self.project(project)
            .and_then(|ids| ids.map.get(anonymous))
            .map_or(anonymous, String::as_str)
    }

    /// Every raw id (the person itself and its anonymous ids) that resolves to `person`.
    pub fn ids_of(&self, project: &str, person: &str) -> Vec<String> {
        let mut ids = vec![person.to_owned()];
        if let Some(anons) = self
            .project(project)
            .and_then(|ids| ids.reverse.get(person))
        {
            ids.extend(anons.iter().cloned());
        }
        ids
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.projects.values().map(|ids| ids.map.len()).sum()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
