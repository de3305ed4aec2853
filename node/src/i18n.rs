//! The `--lang` argument; the language switch and the message pairs themselves live in the engine
//! (`rollmesh_engine::i18n`), which writes clerk-facing messages too.

pub use rollmesh_engine::i18n::*;

/// The language of `--lang`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    /// Tiếng Việt (default).
    Vi,
    /// English.
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Vi => Lang::Vi,
            LangArg::En => Lang::En,
        }
    }
}
