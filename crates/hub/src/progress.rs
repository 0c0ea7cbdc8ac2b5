//! `FileProgress`: one indicatif bar per downloaded file on stderr (bytes, rate, eta). indicatif
//! hides it when stderr is not a terminal; `enabled = false` hides it always.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct FileProgress {
    bar: ProgressBar,
}

const TEMPLATE_SIZED: &str =
    "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}";
const TEMPLATE_UNSIZED: &str = "{msg:30!} {bytes} {binary_bytes_per_sec} {elapsed}";

impl FileProgress {
    /// A bar for `name`, `total` bytes long when known, already at `start` (a resumed download).
    pub(crate) fn new(enabled: bool, name: &str, total: Option<u64>, start: u64) -> FileProgress {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let template = if total.is_some() {
            TEMPLATE_SIZED
        } else {
            TEMPLATE_UNSIZED
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_string());
        bar.set_position(start);
        FileProgress { bar }
    }

    pub(crate) fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish();
    }

    /// Leaves the bar where it stopped (an interrupted or failed download).
    pub(crate) fn abandon(&self) {
        self.bar.abandon();
    }
}
