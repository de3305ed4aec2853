//! The organisation-wide documents at a node: publishing a rule set, a holiday calendar or the
//! organisation tree (only at the node the root certified directly — the city), and reading the ones in
//! force. Every node holds them whatever its scope; until the city publishes one, a node uses the
//! shipped defaults (docs/RULES.md).

use std::sync::Arc;

use chrono::NaiveDate;
use rollmesh_model::orgdoc::{OrgDocKind, CURRENT};
use rollmesh_model::{MemberId, OrgTree, UnitPath};
use rollmesh_proto::{actor_for, DocKind, VerifiedChange};
use rollmesh_rules::{Calendar, RuleSet};

use crate::node::{now, Node};
use crate::screen::{default_calendar, default_rules};
use crate::{msg, NodeError};

/// The parsed tree and the state of the tree document it was parsed from (`None`: none published).
pub(crate) type TreeCache = std::sync::Mutex<Option<(Option<[u8; 32]>, Option<Arc<OrgTree>>)>>;

/// Where the rules a screening used came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesSource {
    /// The city's rule set with this effective date.
    Published(NaiveDate),
    /// The shipped defaults (nothing in force was published).
    Default,
}

impl Node {
    /// Whether this node may write the organisation-wide documents: its credential was issued by the
    /// root itself (the city), or it runs without a root key (the hand-kept trust list).
    pub fn may_publish_org(&self) -> Result<bool, NodeError> {
        if self.root().is_none() {
            return Ok(true);
        }
        Ok(self.own_chain()?.is_some_and(|c| c.0.len() == 1))
    }

    fn publish(&self, kind: OrgDocKind, key: &str, text: &str) -> Result<bool, NodeError> {
        if !self.may_publish_org()? {
            return Err(NodeError::Refused(msg!(
                "chỉ nút cấp thành phố (được khóa gốc cấp chứng nhận trực tiếp) mới ban hành bộ quy tắc, lịch nghỉ và cây tổ chức",
                "only the city node (certified directly by the root key) publishes the rule set, the calendar and the organisation tree"
            )));
        }
        let _one_at_a_time = self.ledger_writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc = self.store.org_doc(kind)?;
        let change = doc
            .publish(actor_for(&self.key.public()), key, text, now())
            .map_err(|e| NodeError::Refused(e.to_string()))?;
        let Some(change) = change else {
            return Ok(false);
        };
        let vc = VerifiedChange::sign_own_compressed(
            &self.key,
            DocKind::Org,
            MemberId(kind.id()),
            change,
        )
        .map_err(|r| NodeError::Internal(r.to_string()))?;
        let report = self.store.apply(vec![vc], "local")?;
        if let Some(why) = report.rejected.first() {
            return Err(NodeError::Internal(format!("own change refused: {why}")));
        }
        Ok(true)
    }

    /// Publishes a rule set (TOML, docs/RULES.md), in force from its `effective` date. Returns that date
    /// and whether anything changed.
    pub fn publish_rules(&self, toml: &str) -> Result<(NaiveDate, bool), NodeError> {
        let rules = RuleSet::from_toml(toml).map_err(|e| {
            // A TOML error spans several lines with a caret under the fault: one line for the clerk.
            let text = e
                .to_string()
                .replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            NodeError::Refused(msg!(
                "tệp quy tắc không đọc được (ngày viết dạng \"2025-01-01\", có ngoặc kép): {text}",
                "the rule-set file does not read (dates are written \"2025-01-01\", quoted): {text}"
            ))
        })?;
        rules
            .validate()
            .map_err(|e| NodeError::Refused(e.to_string()))?;
        let key = rules.effective.format("%Y-%m-%d").to_string();
        Ok((
            rules.effective,
            self.publish(OrgDocKind::Rules, &key, toml)?,
        ))
    }

    /// Publishes the holiday calendar (TOML: `holidays = ["2025-01-01", …]`).
    pub fn publish_calendar(&self, toml: &str) -> Result<bool, NodeError> {
        toml::from_str::<Calendar>(toml).map_err(|e| NodeError::Refused(e.to_string()))?;
        self.publish(OrgDocKind::Calendar, CURRENT, toml)
    }

    /// Publishes the organisation tree (TOML, as `config/org-demo.toml`); it must contain this node's
    /// own unit.
    pub fn publish_tree(&self, toml: &str) -> Result<bool, NodeError> {
        let tree = OrgTree::from_toml(toml).map_err(|e| NodeError::Refused(e.to_string()))?;
        if tree.unit(self.unit()).is_none() {
            return Err(NodeError::UnknownUnit(self.unit().clone()));
        }
        self.publish(OrgDocKind::Tree, CURRENT, toml)
    }

    /// The rule set in force on `day`: the city's latest version effective on or before it, else the
    /// shipped defaults.
    pub fn rule_set(&self, day: NaiveDate) -> Result<(RuleSet, RulesSource), NodeError> {
        let doc = self.store.org_doc(OrgDocKind::Rules)?;
        if let Some((effective, text)) = doc.in_force(day) {
            match RuleSet::from_toml(&text) {
                Ok(r) => return Ok((r, RulesSource::Published(effective))),
                Err(e) => {
                    tracing::warn!(error = %e, "the published rule set does not read; using the defaults")
                }
            }
        }
        Ok((default_rules(), RulesSource::Default))
    }

    /// The holiday calendar: the city's, else Vietnam's public holidays from the shipped table.
    pub fn calendar(&self) -> Result<Calendar, NodeError> {
        let doc = self.store.org_doc(OrgDocKind::Calendar)?;
        if let Some(text) = doc.current() {
            match toml::from_str::<Calendar>(&text) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the published calendar does not read; using the defaults")
                }
            }
        }
        Ok(default_calendar())
    }

    /// The unit a clerk names by code or by name. With the city's tree held, the unit must be in it
    /// (a name is looked up there); without one, only a code is understood.
    pub fn resolve_unit(&self, code_or_name: &str) -> Result<UnitPath, NodeError> {
        match self.org_tree()? {
            Some(tree) => tree
                .find(code_or_name)
                .map(|u| u.path.clone())
                .ok_or_else(|| NodeError::NoSuchUnit(code_or_name.trim().to_string())),
            None => UnitPath::parse(code_or_name.trim()).map_err(|_| {
                let name = code_or_name.trim();
                NodeError::Refused(msg!(
                    "nút này chưa nhận được cây tổ chức của thành phố (hãy đồng bộ với cấp trên), nên chỉ hiểu mã đơn vị như hn.d01.w01.c01, chưa hiểu tên {name:?}",
                    "this node has not received the city's organisation tree yet (sync with its parent), so it understands unit codes such as hn.d01.w01.c01 but not the name {name:?}"
                ))
            }),
        }
    }

    /// Refuses a unit the city's tree does not have (when this node holds the tree).
    pub(crate) fn check_unit_exists(&self, unit: &UnitPath) -> Result<(), NodeError> {
        match self.org_tree()? {
            Some(tree) if tree.unit(unit).is_none() => Err(NodeError::UnknownUnit(unit.clone())),
            _ => Ok(()),
        }
    }

    /// Refuses, for a clerk placing a member, a unit of the city's tree that has units below it: a
    /// member belongs to a cell (a tree that gives a ward members directly has no cells under it).
    pub fn check_cell(&self, unit: &UnitPath) -> Result<(), NodeError> {
        self.check_unit_exists(unit)?;
        match self.org_tree()? {
            Some(tree) if tree.has_children(unit) => Err(NodeError::NotACell(unit.clone())),
            _ => Ok(()),
        }
    }

    /// The organisation tree the city published, if any. Parsed once per published version: a bulk
    /// import checks every row's unit against it.
    pub fn org_tree(&self) -> Result<Option<Arc<OrgTree>>, NodeError> {
        let state = self.store.org_state(OrgDocKind::Tree)?;
        let mut cache = self.tree_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, tree)) = cache.as_ref() {
            if *at == state {
                return Ok(tree.clone());
            }
        }
        let tree = match state {
            None => None,
            Some(_) => {
                let doc = self.store.org_doc(OrgDocKind::Tree)?;
                doc.current()
                    .and_then(|t| OrgTree::from_toml(&t).ok())
                    .map(Arc::new)
            }
        };
        *cache = Some((state, tree.clone()));
        Ok(tree)
    }
}

#[cfg(test)]
mod tests;
