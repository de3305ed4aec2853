//! Statuses written as their stored keys (`official`, `exempted`…) in rule files and facts, the same
//! words the dossiers and the CLI use, instead of serde's Rust variant names.

/// One status as its key.
pub mod status {
    use rollmesh_model::Status;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    /// Writes the key.
    pub fn serialize<S: Serializer>(status: &Status, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(status.key())
    }

    /// Reads a key or either label (case- and diacritic-insensitive).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        let text = String::deserialize(d)?;
        Status::parse(&text).ok_or_else(|| D::Error::custom(format!("unknown status {text:?}")))
    }
}

/// A list of statuses as keys.
pub mod statuses {
    use rollmesh_model::Status;
    use serde::{de::Error, ser::SerializeSeq, Deserialize, Deserializer, Serializer};

    /// Writes the keys.
    pub fn serialize<S: Serializer>(list: &[Status], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for status in list {
            seq.serialize_element(status.key())?;
        }
        seq.end()
    }

    /// Reads keys or labels.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Status>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                Status::parse(t).ok_or_else(|| D::Error::custom(format!("unknown status {t:?}")))
            })
            .collect()
    }
}
