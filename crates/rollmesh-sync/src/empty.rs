//! A log that holds nothing: what a session serves before the peer is authenticated (every message is
//! held back until then, so it is never read), and a stand-in for tests.

use crate::{DocId, Log, LogBatch, LogError, Record, StateHash};

/// The empty log.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyLog;

impl Log for EmptyLog {
    fn index(&self) -> u64 {
        0
    }
    fn head(&self) -> u64 {
        0
    }
    fn read(&mut self, from: u64, _max: usize) -> Result<LogBatch, LogError> {
        Ok(LogBatch {
            records: Vec::new(),
            upto: from,
        })
    }
    fn states(&mut self) -> Result<Vec<(StateHash, DocId)>, LogError> {
        Ok(Vec::new())
    }
    fn histories(&mut self, _docs: &[DocId]) -> Result<Vec<Record>, LogError> {
        Ok(Vec::new())
    }
    fn departures(&mut self, _docs: &[DocId], _upto: u64) -> Result<Vec<Record>, LogError> {
        Ok(Vec::new())
    }
}
