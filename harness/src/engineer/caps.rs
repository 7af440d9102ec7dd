//! Bounds on what an evaluation may hand back to the controller, and on the program it is
//! given: a results file, a feedback text or a metrics table of any size would otherwise be
//! read whole, stored in the database and pasted into later prompts.

use std::io::Read;
use std::path::Path;

use super::Evaluation;
use crate::node::{FailureClass, Status};

/// The largest results file read; a bigger one is a `bad_output` failure.
pub(crate) const MAX_RESULTS_BYTES: u64 = 4 * 1024 * 1024;
/// Feedback kept per evaluation (the head; a marker says how much was cut).
pub(crate) const MAX_FEEDBACK_BYTES: usize = 64 * 1024;
/// Metrics an evaluation may report.
pub(crate) const MAX_METRICS: usize = 256;
/// Bytes of the metrics table as JSON (values may be strings or arrays).
pub(crate) const MAX_METRICS_BYTES: usize = 256 * 1024;

/// Reads a results file if it exists and is within `MAX_RESULTS_BYTES`. Opened without blocking
/// and refused unless it is a regular file: a FIFO left in its place would otherwise hang the
/// controller on open or read.
pub(crate) fn read_results(path: &Path) -> Result<Option<String>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(file) = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) else {
        return Ok(None);
    };
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(m) => {
            return Err(format!("is not a regular file (a {:?}): results must be written as a file", m.file_type()));
        }
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let mut text = Vec::new();
    file.take(MAX_RESULTS_BYTES + 1).read_to_end(&mut text).map_err(|e| format!("cannot be read: {e}"))?;
    if text.len() as u64 > MAX_RESULTS_BYTES {
        let size = std::fs::metadata(path).map_or(String::from("more than that"), |m| format!("{} bytes", m.len()));
        return Err(format!(
            "the results file is {size}, more than the {MAX_RESULTS_BYTES}-byte limit; report long output in a separate file"
        ));
    }
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
}

/// Applies the feedback and metrics bounds to a classified evaluation.
pub(crate) fn bound(mut e: Evaluation, results_name: &str) -> Evaluation {
    let metrics_bytes = serde_json::to_string(&e.metrics).map_or(0, |s| s.len());
    if e.metrics.len() > MAX_METRICS || metrics_bytes > MAX_METRICS_BYTES {
        let reason = format!(
            "{results_name}: {} metrics ({metrics_bytes} bytes as JSON); at most {MAX_METRICS} metrics and {MAX_METRICS_BYTES} bytes are accepted",
            e.metrics.len()
        );
        let mut failed = Evaluation::not_run(FailureClass::BadOutput, reason);
        failed.feedback = truncate(&e.feedback, MAX_FEEDBACK_BYTES);
        failed.stdout_tail = e.stdout_tail;
        failed.stderr_tail = e.stderr_tail;
        failed.seconds = e.seconds;
        debug_assert_eq!(failed.status, Status::Failed);
        return failed;
    }
    e.feedback = truncate(&e.feedback, MAX_FEEDBACK_BYTES);
    e
}

/// The first `max` bytes of `text` (at a character boundary) and a marker, or `text` itself.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... truncated: {} bytes in all, the first {end} kept ...]", &text[..end], text.len())
}

/// Why a proposed program is not evaluated, if it is larger than `max_bytes`.
pub(crate) fn oversized_program(code: &str, max_bytes: usize) -> Option<String> {
    (code.len() > max_bytes).then(|| {
        format!(
            "the proposed program is {} bytes, more than engineer.max_program_bytes = {max_bytes}; it was not evaluated",
            code.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;

    #[test]
    fn an_oversized_results_file_is_refused_without_being_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let feedback = "x".repeat(MAX_RESULTS_BYTES as usize);
        std::fs::write(&path, format!("{{\"score\": 1, \"feedback\": \"{feedback}\"}}")).unwrap();
        let err = read_results(&path).unwrap_err();
        assert!(err.contains("limit") && err.contains(&format!("{} bytes", MAX_RESULTS_BYTES + 28)), "{err}");
        std::fs::write(&path, "{\"score\": 1}").unwrap();
        assert_eq!(read_results(&path).unwrap().as_deref(), Some("{\"score\": 1}"));
        assert_eq!(read_results(&dir.path().join("absent")).unwrap(), None);
    }

    #[test]
    fn a_fifo_in_place_of_the_results_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let err = read_results(&path).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn long_feedback_is_cut_with_a_marker_and_too_many_metrics_fail() {
        let mut e = Evaluation::not_run(FailureClass::Crash, String::new());
        e.status = Status::Valid;
        e.failure = None;
        e.feedback = "é".repeat(MAX_FEEDBACK_BYTES);
        let kept = bound(e.clone(), "results.json");
        assert_eq!(kept.status, Status::Valid);
        assert!(kept.feedback.len() < MAX_FEEDBACK_BYTES + 100);
        assert!(kept.feedback.ends_with(&format!(
            "{} bytes in all, the first {} kept ...]",
            2 * MAX_FEEDBACK_BYTES,
            MAX_FEEDBACK_BYTES
        )));
        e.metrics = (0..=MAX_METRICS).map(|i| (format!("m{i}"), Value::from(i))).collect::<Map<_, _>>();
        let failed = bound(e, "results.json");
        assert_eq!((failed.status, failed.failure), (Status::Failed, Some(FailureClass::BadOutput)));
        assert!(failed.reason.unwrap().contains(&format!("{} metrics", MAX_METRICS + 1)));
    }

    proptest! {
        #[test]
        fn truncation_keeps_a_prefix_on_a_character_boundary(text in "\\PC{0,200}", max in 0usize..300) {
            let cut = truncate(&text, max);
            if text.len() <= max {
                prop_assert_eq!(cut, text);
            } else {
                let (head, marker) = cut.split_once("\n[... truncated: ").unwrap();
                prop_assert!(text.starts_with(head) && head.len() <= max && max - head.len() < 4);
                let expected = format!("{} bytes in all", text.len());
                prop_assert!(marker.starts_with(&expected));
            }
        }
    }
}
