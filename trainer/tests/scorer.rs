//! The external scorer protocol (`simulate --taste-cmd`): paths in, one finite number per path
//! out, in time; every way a scorer can misbehave is a clear error, never a hang or a panic.
use refrain_trainer::simulate::scorer::{run_command, ScorerError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn paths(n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| PathBuf::from(format!("/clips/clip {i}.wav")))
        .collect()
}

fn run(cmd: &str, n: usize, timeout_s: u64) -> Result<Vec<f32>, ScorerError> {
    let p = paths(n);
    let refs: Vec<&PathBuf> = p.iter().collect();
    run_command(cmd, &refs, Duration::from_secs(timeout_s))
}

/// Skips (saying why) where there is no POSIX shell to write the test scorers in.
fn posix() -> bool {
    if cfg!(unix) {
        return true;
    }
    eprintln!("skipped: the test scorers are POSIX shell one-liners");
    false
}

#[test]
fn a_scorer_gets_every_path_in_order_and_its_numbers_come_back_in_order() {
    if !posix() {
        return;
    }
    // The score is the clip's number read back from its path (spaces included): order kept.
    let scores = run(
        r#"while read -r p; do n=${p##* }; echo "${n%.wav}.5"; echo; done"#,
        4,
        30,
    )
    .unwrap();
    assert_eq!(scores, [0.5, 1.5, 2.5, 3.5]);
}

#[test]
fn crash_wrong_count_garbage_and_missing_program_are_clear_errors() {
    if !posix() {
        return;
    }
    match run(
        "cat > /dev/null; echo 'cannot open model' >&2; exit 2",
        3,
        30,
    ) {
        Err(ScorerError::Failed { stderr, status, .. }) => {
            assert!(
                stderr.contains("cannot open model") && status.contains('2'),
                "{stderr} {status}"
            )
        }
        other => panic!("{other:?}"),
    }
    match run("cat > /dev/null; echo 1; echo 2", 3, 30) {
        Err(
            e @ ScorerError::Count {
                expected: 3,
                got: 2,
                ..
            },
        ) => {
            assert!(e.to_string().contains("one number per input line"))
        }
        other => panic!("{other:?}"),
    }
    for bad in ["nan", "inf", "loud"] {
        match run(&format!("cat > /dev/null; echo 1; echo {bad}"), 2, 30) {
            Err(ScorerError::NotANumber { line: 2, text, .. }) => assert_eq!(text, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
    // The shell runs, the program does not exist: the shell's own message comes through.
    match run("no-such-scorer-anywhere", 1, 30) {
        Err(ScorerError::Failed { stderr, .. }) => {
            assert!(stderr.contains("not found"), "{stderr}")
        }
        other => panic!("{other:?}"),
    }
    // A scorer that never reads its input and prints nothing: a count error, not a hang.
    assert!(matches!(
        run("true", 2, 30),
        Err(ScorerError::Count { got: 0, .. })
    ));
}

#[test]
fn a_scorer_that_hangs_is_killed_at_the_timeout() {
    if !posix() {
        return;
    }
    let began = Instant::now();
    match run("exec sleep 30", 1, 1) {
        Err(e @ ScorerError::Timeout { secs: 1, .. }) => {
            assert!(e.to_string().contains("--taste-timeout"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
}
