//! The organisation tree: its levels (how many and what they are called) and its units, loaded from TOML.
//! Nothing here assumes a fixed number of levels: the demo tree has four (city > district > ward > cell),
//! the post-2025 real chain three (city > ward > cell), and both load through the same code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::unit::{UnitPath, UnitPathError};

/// One level of the tree, root first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// A short machine key (`city`, `district`, `ward`, `cell`).
    pub key: String,
    /// The level's name in Vietnamese.
    pub name_vi: String,
    /// The level's name in English.
    pub name_en: String,
}

/// What a cell is attached to (loại hình chi bộ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A residential area (khu dân cư, tổ dân phố, thôn).
    Residential,
    /// An office or public agency (cơ quan).
    Workplace,
    /// A school, college or university (trường học).
    School,
    /// An enterprise (doanh nghiệp).
    Enterprise,
    /// The armed forces or police (lực lượng vũ trang).
    ArmedForces,
    /// Anything else.
    Other,
}

impl UnitKind {
    /// The Vietnamese wording.
    pub fn label_vi(self) -> &'static str {
        match self {
            UnitKind::Residential => "khu dân cư",
            UnitKind::Workplace => "cơ quan",
            UnitKind::School => "trường học",
            UnitKind::Enterprise => "doanh nghiệp",
            UnitKind::ArmedForces => "lực lượng vũ trang",
            UnitKind::Other => "khác",
        }
    }
}

/// One unit of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitInfo {
    /// Its dotted path (its code).
    pub path: UnitPath,
    /// Its display name (Vietnamese, NFC).
    pub name: String,
    /// Whether the unit is rural (a cell's setting, used in reports); absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rural: Option<bool>,
    /// What the cell is attached to; absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<UnitKind>,
    /// The administrative ward (phường/xã) a residential cell belongs to, by code or name. A member of
    /// the cell who lives in another ward is flagged by R14.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_ward: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeFile {
    name: String,
    levels: Vec<Level>,
    #[serde(default)]
    units: Vec<UnitFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFileEntry {
    path: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rural: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<UnitKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin_ward: Option<String>,
}

/// Why a tree file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The file could not be read.
    #[error("cannot read tree file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("tree file is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// A unit path is malformed.
    #[error("unit {path:?}: {source}")]
    Path {
        /// The offending path text.
        path: String,
        /// The cause.
        source: UnitPathError,
    },
    /// No levels were declared.
    #[error("the tree declares no levels")]
    NoLevels,
    /// A unit lies deeper than the declared levels.
    #[error("unit {0} is deeper than the {1} declared levels")]
    TooDeep(UnitPath, usize),
    /// A unit's parent is not in the tree.
    #[error("unit {0} has no parent unit in the tree")]
    Orphan(UnitPath),
    /// Two entries share a path.
    #[error("unit {0} is declared twice")]
    Duplicate(UnitPath),
    /// There must be exactly one root unit.
    #[error("the tree must have exactly one root unit, found {0}")]
    Roots(usize),
}

/// A loaded, validated organisation tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgTree {
    /// The organisation's name.
    pub name: String,
    /// The levels, root first.
    pub levels: Vec<Level>,
    units: BTreeMap<UnitPath, UnitInfo>,
    root: UnitPath,
}

impl OrgTree {
    /// Parses and validates a tree from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, TreeError> {
        let file: TreeFile = toml::from_str(text)?;
        if file.levels.is_empty() {
            return Err(TreeError::NoLevels);
        }
        let mut units = BTreeMap::new();
        for u in file.units {
            let path = UnitPath::parse(&u.path).map_err(|source| TreeError::Path {
                path: u.path.clone(),
                source,
            })?;
            if path.depth() >= file.levels.len() {
                return Err(TreeError::TooDeep(path, file.levels.len()));
            }
            let info = UnitInfo {
                path: path.clone(),
                name: crate::text::clean(&u.name),
                rural: u.rural,
                kind: u.kind,
                admin_ward: u.admin_ward.map(|w| crate::text::clean(&w)),
            };
            if units.insert(path.clone(), info).is_some() {
                return Err(TreeError::Duplicate(path));
            }
        }
        let roots: Vec<&UnitPath> = units.keys().filter(|p| p.depth() == 0).collect();
        if roots.len() != 1 {
            return Err(TreeError::Roots(roots.len()));
        }
        let root = roots[0].clone();
        for p in units.keys() {
            if let Some(parent) = p.parent() {
                if !units.contains_key(&parent) {
                    return Err(TreeError::Orphan(p.clone()));
                }
            }
        }
        Ok(OrgTree {
            name: crate::text::clean(&file.name),
            levels: file.levels,
            units,
            root,
        })
    }

    /// The tree as TOML, in the file format [`OrgTree::from_toml`] reads.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let file = TreeFile {
            name: self.name.clone(),
            levels: self.levels.clone(),
            units: self
                .units
                .values()
                .map(|u| UnitFileEntry {
                    path: u.path.to_string(),
                    name: u.name.clone(),
                    rural: u.rural,
                    kind: u.kind,
                    admin_ward: u.admin_ward.clone(),
                })
                .collect(),
        };
        toml::to_string(&file)
    }

    /// The root unit.
    pub fn root(&self) -> &UnitPath {
        &self.root
    }

    /// The unit at `path`, if the tree has it.
    pub fn unit(&self, path: &UnitPath) -> Option<&UnitInfo> {
        self.units.get(path)
    }

    /// The unit a clerk names by its code (`hn.d01.w01.c01`) or by its name (`Chi bộ 01 Phường Điện
    /// Biên`, accents and case ignored); `None` when no unit, or more than one, has that name.
    pub fn find(&self, code_or_name: &str) -> Option<&UnitInfo> {
        if let Ok(p) = UnitPath::parse(code_or_name.trim()) {
            if let Some(u) = self.units.get(&p) {
                return Some(u);
            }
        }
        let want = crate::text::fold(code_or_name);
        let mut found = self
            .units
            .values()
            .filter(|u| crate::text::fold(&u.name) == want);
        match (found.next(), found.next()) {
            (Some(u), None) => Some(u),
            _ => None,
        }
    }

    /// The level of a unit path (by depth), if the tree is that deep.
    pub fn level_of(&self, path: &UnitPath) -> Option<&Level> {
        self.levels.get(path.depth())
    }

    /// All units in path order (a parent before its subtree).
    pub fn units(&self) -> impl Iterator<Item = &UnitInfo> {
        self.units.values()
    }

    /// True when a unit has units below it. Reads only the units whose code extends this one's (they
    /// sort right after it), not the whole tree: an import asks this for every row.
    pub fn has_children(&self, path: &UnitPath) -> bool {
        self.units
            .range(path.clone()..)
            .skip(1)
            .take_while(|(p, _)| p.as_str().starts_with(path.as_str()))
            .any(|(p, _)| path.covers(p))
    }

    /// The direct children of a unit.
    pub fn children<'a>(&'a self, path: &'a UnitPath) -> impl Iterator<Item = &'a UnitInfo> + 'a {
        self.units
            .values()
            .filter(move |u| u.path.parent().as_ref() == Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_children_agrees_with_children_for_every_unit() {
        for text in [DEMO, THREE] {
            let tree = OrgTree::from_toml(text).expect("tree");
            for u in tree.units() {
                assert_eq!(
                    tree.has_children(&u.path),
                    tree.children(&u.path).next().is_some(),
                    "{}",
                    u.path
                );
            }
        }
    }

    const DEMO: &str = include_str!("../../../config/org-demo.toml");
    const THREE: &str = include_str!("../../../config/org-3level.toml");

    #[test]
    fn shipped_trees_load() {
        let demo = OrgTree::from_toml(DEMO).expect("demo tree");
        assert_eq!(demo.levels.len(), 4);
        assert_eq!(demo.root().as_str(), "hn");
        assert_eq!(demo.units().count(), 15);
        let again = OrgTree::from_toml(&demo.to_toml().expect("to toml")).expect("reads back");
        assert_eq!(again, demo);
        assert_eq!(
            demo.find("chi bo 01 phuong dien bien")
                .map(|u| u.path.to_string()),
            Some("hn.d01.w01.c01".to_string())
        );
        assert_eq!(demo.find("hn.d02").map(|u| u.path.depth()), Some(1));
        assert!(demo.find("Chi bộ không có").is_none());
        let cell = UnitPath::parse("hn.d01.w01.c01").expect("path");
        assert_eq!(demo.level_of(&cell).map(|l| l.key.as_str()), Some("cell"));
        let three = OrgTree::from_toml(THREE).expect("three-level tree");
        assert_eq!(three.levels.len(), 3);
        let cell3 = UnitPath::parse("hn.p01.c01").expect("path");
        assert_eq!(three.level_of(&cell3).map(|l| l.key.as_str()), Some("cell"));
    }

    #[test]
    fn refuses_orphans_and_too_deep_units() {
        let base =
            "name = \"x\"\n[[levels]]\nkey=\"city\"\nname_vi=\"Thành phố\"\nname_en=\"City\"\n\
                    [[levels]]\nkey=\"cell\"\nname_vi=\"Chi bộ\"\nname_en=\"Cell\"\n\
                    [[units]]\npath=\"hn\"\nname=\"HN\"\n";
        let orphan = format!("{base}[[units]]\npath=\"hn.a.b\"\nname=\"x\"\n");
        assert!(matches!(
            OrgTree::from_toml(&orphan),
            Err(TreeError::TooDeep(..))
        ));
        let three = "name = \"x\"\n[[levels]]\nkey=\"a\"\nname_vi=\"a\"\nname_en=\"a\"\n\
                     [[levels]]\nkey=\"b\"\nname_vi=\"b\"\nname_en=\"b\"\n\
                     [[levels]]\nkey=\"c\"\nname_vi=\"c\"\nname_en=\"c\"\n\
                     [[units]]\npath=\"hn\"\nname=\"HN\"\n[[units]]\npath=\"hn.a.b\"\nname=\"x\"\n";
        assert!(matches!(
            OrgTree::from_toml(three),
            Err(TreeError::Orphan(_))
        ));
        let dup = format!("{base}[[units]]\npath=\"hn\"\nname=\"again\"\n");
        assert!(matches!(
            OrgTree::from_toml(&dup),
            Err(TreeError::Duplicate(_))
        ));
    }
}
