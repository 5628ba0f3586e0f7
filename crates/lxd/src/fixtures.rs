//! Recorded LXD answers in `tests/fixtures/` (see the README there).

pub fn bytes(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&bytes(name)).unwrap()
}

/// The `metadata` of a recorded answer.
pub fn metadata(name: &str) -> serde_json::Value {
    json(name)["metadata"].clone()
}
