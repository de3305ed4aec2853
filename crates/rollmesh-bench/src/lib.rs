//! The benchmark's library half: the deterministic synthetic organisation (DESIGN.md §8).

pub mod gen;
