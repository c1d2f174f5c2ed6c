//! A least-recently-used map from user-agent strings to parse results, one per worker thread
//! (so no locks): [`Lru`].
//!
//! Nodes live in a vector linked by index; a hit moves its node to the front, a miss at
//! capacity reuses the tail's node.

use std::collections::HashMap;
use std::rc::Rc;

const NIL: usize = usize::MAX;

struct Node<V> {
    key: Rc<str>,
    value: V,
    prev: usize,
    next: usize,
}

/// A map that forgets its least recently used entry once it holds `capacity` entries.
pub struct Lru<V> {
    index: HashMap<Rc<str>, usize>,
    nodes: Vec<Node<V>>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    capacity: usize,
}

impl<V: Clone> Lru<V> {
    /// A cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Lru<V> {
        Lru {
            index: HashMap::new(),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The value for `key`, now the most recently used.
    pub fn get(&mut self, key: &str) -> Option<V> {
        let i = *self.index.get(key)?;
        self.unlink(i);
        self.push_front(i);
        Some(self.nodes[i].value.clone())
    }

    /// Stores `value` for `key` (absent), evicting the least recently used entry when full.
    pub fn insert(&mut self, key: &str, value: V) {
        let key: Rc<str> = Rc::from(key);
        let i = if self.nodes.len() < self.capacity {
            self.nodes.push(Node {
                key: Rc::clone(&key),
                value,
                prev: NIL,
                next: NIL,
            });
            self.nodes.len() - 1
        } else {
            let i = self.tail;
            self.unlink(i);
            self.index.remove(&self.nodes[i].key);
            self.nodes[i].key = Rc::clone(&key);
            self.nodes[i].value = value;
            i
        };
        self.index.insert(key, i);
        self.push_front(i);
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.nodes[i].prev, self.nodes[i].next);
        match prev {
            NIL => self.head = next,
            p => self.nodes[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        self.nodes[i].prev = NIL;
        self.nodes[i].next = self.head;
        match self.head {
            NIL => self.tail = i,
            h => self.nodes[h].prev = i,
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get("a"), Some(1)); // "b" is now the oldest
        lru.insert("c", 3);
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.get("a"), Some(1));
        assert_eq!(lru.get("c"), Some(3));
        assert_eq!(lru.len(), 2);
        lru.insert("d", 4); // evicts "a"
        assert_eq!(lru.get("a"), None);
        assert_eq!(lru.get("d"), Some(4));
    }

    #[test]
    fn a_capacity_of_one_keeps_the_latest() {
        let mut lru = Lru::new(0);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get("a"), None);
        assert_eq!(lru.get("b"), Some(2));
        assert!(!lru.is_empty());
    }
}
