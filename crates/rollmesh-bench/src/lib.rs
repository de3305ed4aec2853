//! The benchmark's library half: the deterministic synthetic organisation (docs/BRIEF.md §8).

pub mod gen;
