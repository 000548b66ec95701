//! Node storage: nodes of one kind addressed by `u32` ids, freed ids reused.

use std::ops::{Index, IndexMut};

#[derive(Debug)]
pub(super) struct Arena<T> {
    nodes: Vec<T>,
    free: Vec<u32>,
}

impl<T> Arena<T> {
    pub fn new() -> Self {
        Arena {
            nodes: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `node`, reusing a freed id when there is one.
    pub fn alloc(&mut self, node: T) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Releases `id`, leaving `placeholder` (a node owning no heap memory) in its place.
    pub fn free(&mut self, id: u32, placeholder: T) {
        self.nodes[id as usize] = placeholder;
        self.free.push(id);
    }

    /// Every stored node, freed placeholders included.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.nodes.iter()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes held by the arena's own vectors.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<T>() + self.free.capacity() * size_of::<u32>()
    }
}

impl<T> Index<usize> for Arena<T> {
    type Output = T;

    fn index(&self, id: usize) -> &T {
        &self.nodes[id]
    }
}

impl<T> IndexMut<usize> for Arena<T> {
    fn index_mut(&mut self, id: usize) -> &mut T {
        &mut self.nodes[id]
    }
}
