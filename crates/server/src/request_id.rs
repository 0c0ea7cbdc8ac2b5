//! Response ids (`chatcmpl-…`, `cmpl-…`): unique within the process and unlikely to repeat
//! across restarts (a counter mixed with the start time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn start_salt() -> u64 {
    static SALT: OnceLock<u64> = OnceLock::new();
    *SALT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut state = nanos ^ u64::from(std::process::id());
        sampling::splitmix64(&mut state)
    })
}

pub fn new_id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{:016x}{n:08x}", start_salt())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique() {
        let a = super::new_id("cmpl");
        let b = super::new_id("cmpl");
        assert_ne!(a, b);
        assert!(a.starts_with("cmpl-"));
    }
}
