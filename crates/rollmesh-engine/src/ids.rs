//! Fresh identifiers from the clock and the OS random source: the model crate stays pure and takes them
//! as values.

use rollmesh_model::MemberId;

/// A new member id: the current time in milliseconds and 80 random bits.
pub fn new_member_id() -> MemberId {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    MemberId::new(ms, rand::random())
}
