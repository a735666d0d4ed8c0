//! How a simulated round's clips are scored: a built-in taste, or an external program.
//!
//! The external protocol (`simulate --taste-cmd CMD`): once per round, CMD is run through the
//! shell (`sh -c`; `cmd /C` on Windows) with the round's clip WAV paths on standard input, one
//! absolute path per line, then end of input. It prints exactly one number per input line on
//! standard output, in the same order (higher = liked; blank lines are ignored; `nan`, `inf`
//! and anything else that is not a finite number is an error). It must exit with status 0
//! within the timeout; its standard error is passed on in error messages.
use super::taste::TasteKind;
use refrain_engine::spectrogram::AudioConfig;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default time an external scorer gets per round.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How a round's clips are scored.
#[derive(Debug, Clone)]
pub enum Scorer {
    /// A built-in taste measured on the audio.
    BuiltIn(TasteKind),
    /// An external program (see the module's protocol).
    Command {
        /// The shell command line.
        cmd: String,
        /// How long it may take per round.
        timeout: Duration,
    },
}

/// Why an external scorer gave no scores.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    /// It could not be started.
    #[error("taste command `{cmd}` could not start: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why.
        source: std::io::Error,
    },
    /// It did not finish in time (it was killed).
    #[error("taste command `{cmd}` did not finish within {secs} s (killed); raise --taste-timeout or make it faster")]
    Timeout {
        /// The command line.
        cmd: String,
        /// The limit.
        secs: u64,
    },
    /// It exited with a failure.
    #[error("taste command `{cmd}` failed ({status}); its stderr ends: {stderr}")]
    Failed {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// The last lines of its standard error.
        stderr: String,
    },
    /// It printed a different number of scores than it was given paths.
    #[error("taste command `{cmd}` printed {got} score(s) for {expected} clip(s): one number per input line is expected")]
    Count {
        /// The command line.
        cmd: String,
        /// Paths given.
        expected: usize,
        /// Numbers printed.
        got: usize,
    },
    /// A line was not a finite number.
    #[error("taste command `{cmd}` printed `{text}` on output line {line}: not a finite number")]
    NotANumber {
        /// The command line.
        cmd: String,
        /// 1-based line number.
        line: usize,
        /// What it printed.
        text: String,
    },
    /// Talking to it failed.
    #[error("taste command `{cmd}`: {source}")]
    Io {
        /// The command line.
        cmd: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Scorer {
    /// What the scorer measures, for tables.
    pub fn describe(&self) -> String {
        match self {
            Self::BuiltIn(kind) => kind.describe().to_string(),
            Self::Command { cmd, .. } => format!("external scorer `{cmd}`"),
        }
    }

    /// Short name for file and table names.
    pub fn name(&self) -> String {
        match self {
            Self::BuiltIn(kind) => format!("{kind:?}").to_lowercase(),
            Self::Command { .. } => "external".into(),
        }
    }

    /// Scores clips (mono audio at `config`'s rate, stored at `paths`), in order. Built-in
    /// tastes score silence as 0.
    pub fn score(
        &self,
        clips: &[(&[f32], PathBuf)],
        config: &AudioConfig,
    ) -> Result<Vec<f32>, ScorerError> {
        match self {
            Self::BuiltIn(kind) => Ok(clips
                .iter()
                .map(|(audio, _)| kind.measure(audio, config).unwrap_or(0.0))
                .collect()),
            Self::Command { cmd, timeout } => {
                let paths: Vec<&PathBuf> = clips.iter().map(|(_, p)| p).collect();
                run_command(cmd, &paths, *timeout)
            }
        }
    }
}

fn shell(cmd: &str) -> Command {
    if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.args(["/C", cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", cmd]);
        c
    }
}

/// Runs the protocol once: paths in, one finite number per path out, within `timeout`.
pub fn run_command(
    cmd: &str,
    paths: &[&PathBuf],
    timeout: Duration,
) -> Result<Vec<f32>, ScorerError> {
    let io = |source| ScorerError::Io {
        cmd: cmd.to_string(),
        source,
    };
    let mut child = shell(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScorerError::Spawn {
            cmd: cmd.to_string(),
            source,
        })?;
    // Readers on their own threads, so a scorer that fills a pipe before reading all its input
    // cannot deadlock us; the writer too, for one that never reads.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let input: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            // A scorer may exit without reading everything: a broken pipe is its business.
            let _ = s.write_all(input.as_bytes());
        }
    });
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            break status;
        }
        if began.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ScorerError::Timeout {
                cmd: cmd.to_string(),
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(ScorerError::Failed {
            cmd: cmd.to_string(),
            status: status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
        });
    }
    let mut scores = Vec::with_capacity(paths.len());
    for (i, line) in stdout.lines().enumerate() {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match text.parse::<f32>() {
            Ok(v) if v.is_finite() => scores.push(v),
            _ => {
                return Err(ScorerError::NotANumber {
                    cmd: cmd.to_string(),
                    line: i + 1,
                    text: text.chars().take(80).collect(),
                })
            }
        }
    }
    if scores.len() != paths.len() {
        return Err(ScorerError::Count {
            cmd: cmd.to_string(),
            expected: paths.len(),
            got: scores.len(),
        });
    }
    Ok(scores)
}
