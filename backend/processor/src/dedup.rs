//! A bounded window of recently stored messageIds.

use std::collections::{HashMap, HashSet, VecDeque};

/// Remembers the last `capacity` `(project, messageId)` pairs (first in, first out). A repeat
/// inside the window is dropped before it is written; an older repeat reaches the store, which
/// deduplicates it too.
#[derive(Debug)]
pub struct DedupWindow {
    capacity: usize,
    /// Per project, so a lookup borrows its keys instead of building a pair.
    ids: HashMap<String, HashSet<String>>,
    order: VecDeque<(String, String)>,
}

impl DedupWindow {
    /// A window of `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ids: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether the id is in the window.
    pub fn contains(&self, project: &str, message_id: &str) -> bool {
        self.ids
            .get(project)
            .is_some_and(|ids| ids.contains(message_id))
    }

    /// Remembers an id (call once it is stored).
    pub fn insert(&mut self, project: &str, message_id: &str) {
        if self.contains(project, message_id) {
            return;
        }
        self.ids
            .entry(project.to_owned())
            .or_default()
            .insert(message_id.to_owned());
        self.order
            .push_back((project.to_owned(), message_id.to_owned()));
        while self.order.len() > self.capacity {
            if let Some((project, id)) = self.order.pop_front() {
                if let Some(ids) = self.ids.get_mut(&project) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        self.ids.remove(&project);
                    }
                }
            }
        }
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_capacity() {
        let mut w = DedupWindow::new(2);
        w.insert("p", "a");
        w.insert("p", "b");
        w.insert("p", "b");
        assert!(w.contains("p", "a"));
        w.insert("p", "c");
        assert!(!w.contains("p", "a"));
        assert!(w.contains("p", "b") && w.contains("p", "c"));
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn projects_are_separate() {
        let mut w = DedupWindow::new(10);
        w.insert("p1", "a");
        assert!(!w.contains("p2", "a"));
    }
}
