//! Cascade evaluation: stages run in order, each gating the next with a score threshold, so
//! the expensive stages run only on candidates that survived the cheap ones. The outcome is
//! the last stage reached, with the metrics of every stage that ran.

use serde_json::Value;

use super::Evaluation;
use crate::node::Status;
use crate::suite::Stage;

/// Where stage `i` (1-based) of `n` writes its results and logs. A one-stage evaluator keeps
/// the plain names (`results.json`, `stdout.log`, `stderr.log`).
pub(crate) fn stage_files(i: usize, n: usize) -> [String; 3] {
    if n == 1 {
        [super::RESULTS_FILE.into(), "stdout.log".into(), "stderr.log".into()]
    } else {
        [format!("results.stage{i}.json"), format!("stdout.stage{i}.log"), format!("stderr.stage{i}.log")]
    }
}

/// Runs `run_stage(i, stage)` for i = 1, 2, … until a stage is not valid, scores below its
/// threshold, or is the last, and combines what ran.
pub(crate) fn run<E>(
    stages: &[Stage],
    mut run_stage: impl FnMut(usize, &Stage) -> Result<Evaluation, E>,
) -> Result<Evaluation, E> {
    let n = stages.len();
    let mut done: Vec<Evaluation> = Vec::with_capacity(n);
    let mut stop_note = None;
    for (index, stage) in stages.iter().enumerate() {
        let i = index + 1;
        let e = run_stage(i, stage)?;
        let passed = e.status == Status::Valid;
        let score = e.score;
        done.push(e);
        if !passed {
            break;
        }
        if let (Some(threshold), Some(score)) = (stage.threshold, score)
            && score < threshold
        {
            stop_note = Some(format!(
                "stopped at stage {i} of {n}: score {score} is below the threshold {threshold} for stage {}",
                i + 1
            ));
            break;
        }
    }
    Ok(combine(done, n, stop_note))
}

/// The last evaluation in `done`, with every stage's metrics (later stages win a clash) and,
/// for more than one stage, the `stage`/`stages` metrics, each stage's score as
/// `stage<i>_score`, and feedback and output tails labelled by stage.
fn combine(mut done: Vec<Evaluation>, n: usize, stop_note: Option<String>) -> Evaluation {
    if n == 1 {
        return done.pop().expect("at least one stage ran");
    }
    let reached = done.len();
    let mut metrics = serde_json::Map::new();
    let (mut feedback, mut stdout, mut stderr) = (Vec::new(), String::new(), String::new());
    let mut seconds = 0.0;
    for (index, e) in done.iter().enumerate() {
        let i = index + 1;
        metrics.extend(e.metrics.clone());
        if let Some(score) = e.score {
            metrics.insert(format!("stage{i}_score"), score.into());
        }
        if !e.feedback.trim().is_empty() {
            feedback.push(format!("[stage {i}] {}", e.feedback.trim()));
        }
        stdout.push_str(&format!("--- stage {i} of {n} ---\n{}", e.stdout_tail));
        stderr.push_str(&format!("--- stage {i} of {n} ---\n{}", e.stderr_tail));
        seconds += e.seconds;
    }
    metrics.insert("stage".into(), Value::from(reached));
    metrics.insert("stages".into(), Value::from(n));
    let mut last = done.pop().expect("at least one stage ran");
    if last.status != Status::Valid {
        let reason = last.reason.take().unwrap_or_default();
        last.reason = Some(format!("stage {reached} of {n}: {reason}"));
        feedback.push(format!("stopped at stage {reached} of {n}: {reason}"));
    }
    feedback.extend(stop_note);
    Evaluation { metrics, feedback: feedback.join("\n"), stdout_tail: stdout, stderr_tail: stderr, seconds, ..last }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::FailureClass;

    fn stages(thresholds: &[Option<f64>]) -> Vec<Stage> {
        thresholds.iter().map(|&threshold| Stage { command: vec!["x".into()], timeout_s: 1.0, threshold }).collect()
    }

    fn valid(score: f64, metric: (&str, f64)) -> Evaluation {
        let mut metrics = serde_json::Map::new();
        metrics.insert(metric.0.into(), metric.1.into());
        Evaluation {
            status: Status::Valid,
            failure: None,
            reason: None,
            score: Some(score),
            metrics,
            feedback: format!("scored {score}"),
            seconds: 1.0,
            ..Evaluation::not_run(FailureClass::Crash, String::new())
        }
    }

    fn run_with(thresholds: &[Option<f64>], results: Vec<Evaluation>) -> (Evaluation, usize) {
        let mut ran = 0;
        let mut results = results.into_iter();
        let e = run::<()>(&stages(thresholds), |i, _| {
            ran = i;
            Ok(results.next().unwrap())
        })
        .unwrap();
        (e, ran)
    }

    #[test]
    fn a_single_stage_is_passed_through() {
        let (e, ran) = run_with(&[None], vec![valid(2.0, ("a", 1.0))]);
        assert_eq!((ran, e.score, e.metrics.len()), (1, Some(2.0), 1));
        assert_eq!(e.feedback, "scored 2");
    }

    #[test]
    fn a_low_score_stops_the_cascade_with_the_reason() {
        let (e, ran) = run_with(&[Some(0.5), Some(0.9), None], vec![valid(0.7, ("a", 1.0)), valid(0.8, ("b", 2.0))]);
        assert_eq!((ran, e.status, e.score), (2, Status::Valid, Some(0.8)));
        assert_eq!((e.metrics["stage"].as_u64(), e.metrics["stages"].as_u64()), (Some(2), Some(3)));
        assert_eq!((e.metrics["a"].as_f64(), e.metrics["b"].as_f64()), (Some(1.0), Some(2.0)));
        assert_eq!(e.metrics["stage1_score"].as_f64(), Some(0.7));
        assert!(e.feedback.contains("stopped at stage 2 of 3: score 0.8 is below the threshold 0.9"), "{}", e.feedback);
        assert_eq!(e.seconds, 2.0);
    }

    #[test]
    fn a_failed_stage_is_the_outcome_and_names_its_stage() {
        let crash = Evaluation::not_run(FailureClass::Crash, "exit status 1: boom".into());
        let (e, ran) = run_with(&[Some(0.5), None], vec![valid(0.7, ("a", 1.0)), crash]);
        assert_eq!((ran, e.status, e.failure), (2, Status::Failed, Some(FailureClass::Crash)));
        assert_eq!(e.reason.as_deref(), Some("stage 2 of 2: exit status 1: boom"));
        assert_eq!(e.metrics["a"].as_f64(), Some(1.0));
        assert_eq!(e.metrics["stage"].as_u64(), Some(2));
    }

    #[test]
    fn survivors_run_every_stage() {
        let (e, ran) = run_with(&[Some(0.5), None], vec![valid(0.7, ("a", 1.0)), valid(0.9, ("a", 3.0))]);
        assert_eq!((ran, e.score, e.metrics["a"].as_f64()), (2, Some(0.9), Some(3.0)));
        assert!(!e.feedback.contains("stopped"));
    }
}
