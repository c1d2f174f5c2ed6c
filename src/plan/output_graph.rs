//! Routing a filtered batch to outputs through the [`OutputGraph`].
//!
//! Outputs outside any conditional get the whole batch without looking at a single event (the
//! usual case, and free). When some sit inside conditionals, the branch tree is walked once per
//! event, each event's index collected for every output it reaches.

use std::sync::Arc;

use crate::event::Event;

use super::{Branch, OutputGraph, OutputNode};

impl OutputGraph {
    /// For each of `n_outputs` outputs: `None` if it gets every event, else the indices of the
    /// events it gets.
    pub fn route(&self, events: &[Event], n_outputs: usize) -> Vec<Option<Arc<[u32]>>> {
        if !self.has_branches() {
            return vec![None; n_outputs];
        }
        let mut everything = vec![false; n_outputs];
        for node in &self.nodes {
            if let OutputNode::Output(i) = node {
                if let Some(flag) = everything.get_mut(*i) {
                    *flag = true;
                }
            }
        }
        let mut picked: Vec<Vec<u32>> = vec![Vec::new(); n_outputs];
        for (index, event) in events.iter().enumerate() {
            for node in &self.nodes {
                if let OutputNode::Branch(branch) = node {
                    visit_branch(branch, event, index as u32, &mut picked);
                }
            }
        }
        picked
            .into_iter()
            .zip(everything)
            .map(|(indices, all)| (!all).then(|| indices.into()))
            .collect()
    }

    /// True when some output sits inside a conditional.
    pub fn has_branches(&self) -> bool {
        self.nodes
            .iter()
            .any(|node| matches!(node, OutputNode::Branch(_)))
    }
}

fn visit_branch(branch: &Branch<OutputNode>, event: &Event, index: u32, picked: &mut [Vec<u32>]) {
    let taken = branch
        .arms
        .iter()
        .find(|(condition, _)| condition.eval(event))
        .map_or(&branch.otherwise, |(_, nodes)| nodes);
    visit_nodes(taken, event, index, picked);
}

fn visit_nodes(nodes: &[OutputNode], event: &Event, index: u32, picked: &mut [Vec<u32>]) {
    for node in nodes {
        match node {
            OutputNode::Output(i) => {
                if let Some(list) = picked.get_mut(*i) {
                    list.push(index);
                }
            }
            OutputNode::Branch(branch) => visit_branch(branch, event, index, picked),
        }
    }
}
