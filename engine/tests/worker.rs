//! The worker thread: events in order, cancel, reload when `models/current` moves, failures as
//! events (never a panic across the thread boundary).
mod support;

use refrain_engine::audio::Audio;
use refrain_engine::locator::publish_current;
use refrain_engine::manifest::Manifest;
use refrain_engine::pipeline::GenerateRequest;
use refrain_engine::worker::{Event, Worker, WorkerConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::tiny;

fn config(model_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> WorkerConfig {
    WorkerConfig {
        model_dir,
        data_dir,
        shipped_base: tiny::dir(),
        options: tiny::cpu(),
        baseline_share: 0.0,
    }
}

fn request(seeds: Vec<u64>, steps: usize) -> GenerateRequest {
    let n = 44_100 * 7;
    let tone: Vec<f32> = (0..n).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    GenerateRequest {
        songs: vec![tiny::song("tone", Audio::from_mono(44_100, tone))],
        strength: 1.0,
        detail: 1.0,
        steps,
        eta: 0.0,
        seeds,
        output_rate: 48_000,
        vocoder: None,
        fit: None,
    }
}

/// Publishes a copy of the tiny model as version 1 (parent 0) in `data`'s `models/current`.
fn publish_v1(data: &Path) {
    let v1 = data.join("models/v1");
    tiny::copy_to(&v1);
    let mut manifest = Manifest::load(&tiny::dir()).unwrap();
    manifest.version = 1;
    manifest.parent = Some(0);
    manifest.write(&v1).unwrap();
    publish_current(data, "v1").unwrap();
}

/// Events until the job `id` ends (Done, Cancelled or Failed), with a generous timeout.
fn until_end(worker: &Worker, id: u64) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = worker
            .events()
            .recv_timeout(Duration::from_secs(60))
            .expect("worker went quiet");
        let end = matches!(&event, Event::Done { id: i, .. } | Event::Cancelled { id: i } | Event::Failed { id: i, .. } if *i == id);
        seen.push(event);
        if end {
            return seen;
        }
    }
}

#[test]
fn a_job_reports_model_progress_clips_and_done() {
    let mut worker = Worker::spawn(config(Some(tiny::dir()), None)).unwrap();
    let id = worker.submit(request(vec![1, 2], 5)).unwrap();
    let events = until_end(&worker, id);
    assert!(
        matches!(events.first(), Some(Event::ModelLoaded { provider, .. }) if provider == "cpu")
    );
    let clips = events
        .iter()
        .filter(|e| matches!(e, Event::Clip { .. }))
        .count();
    let steps = events
        .iter()
        .filter(|e| matches!(e, Event::Progress { .. }))
        .count();
    assert_eq!(clips, 2);
    assert!(steps >= 5, "progress events: {steps}");
    assert!(matches!(events.last(), Some(Event::Done { .. })));
}

#[test]
fn cancel_stops_the_running_job_and_later_jobs_still_run() {
    let mut worker = Worker::spawn(config(Some(tiny::dir()), None)).unwrap();
    let first = worker.submit(request(vec![1, 2, 3, 4], 1000)).unwrap();
    // Wait until it is sampling, then cancel: it must stop long before 1000 steps.
    loop {
        match worker
            .events()
            .recv_timeout(Duration::from_secs(60))
            .expect("progress")
        {
            Event::Progress {
                progress: refrain_engine::pipeline::Progress::Step { step, .. },
                ..
            } if step >= 1 => break,
            _ => {}
        }
    }
    worker.cancel_all();
    let events = until_end(&worker, first);
    assert!(
        matches!(events.last(), Some(Event::Cancelled { .. })),
        "{:?}",
        events.last()
    );
    let second = worker.submit(request(vec![7], 3)).unwrap();
    assert!(matches!(
        until_end(&worker, second).last(),
        Some(Event::Done { .. })
    ));
}

#[test]
fn the_worker_reloads_when_the_current_pointer_moves() {
    let data = tempfile::tempdir().unwrap();
    let mut worker = Worker::spawn(config(None, Some(data.path().to_path_buf()))).unwrap();
    let id = worker.submit(request(vec![1], 2)).unwrap();
    let events = until_end(&worker, id);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ModelLoaded { version: 0, .. })));

    publish_v1(data.path());

    let id = worker.submit(request(vec![1], 2)).unwrap();
    let events = until_end(&worker, id);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ModelLoaded { version: 1, .. })),
        "{events:?}"
    );
    assert!(matches!(events.last(), Some(Event::Done { .. })));
}

#[test]
fn a_missing_model_fails_the_job_with_a_readable_reason() {
    let mut worker = Worker::spawn(config(
        Some(PathBuf::from("/nonexistent/refrain-model")),
        None,
    ))
    .unwrap();
    let id = worker.submit(request(vec![1], 2)).unwrap();
    match until_end(&worker, id).pop() {
        Some(Event::Failed { reason, .. }) => {
            assert!(reason.contains("cannot load the model"), "{reason}")
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn a_blind_share_of_clips_comes_from_the_parent_version() {
    let data = tempfile::tempdir().unwrap();
    publish_v1(data.path());
    let mut cfg = config(None, Some(data.path().to_path_buf()));
    cfg.baseline_share = 0.25;
    let mut worker = Worker::spawn(cfg).unwrap();

    let seeds: Vec<u64> = (100..160).collect();
    let split = |worker: &mut Worker| {
        let id = worker.submit(request(seeds.clone(), 1)).unwrap();
        until_end(worker, id)
            .into_iter()
            .filter_map(|e| match e {
                Event::Clip { clip, .. } => Some((
                    clip.params.seed,
                    clip.params.is_baseline,
                    clip.params.model_version,
                )),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let first = split(&mut worker);
    assert_eq!(
        first.iter().map(|c| c.0).collect::<Vec<_>>(),
        seeds,
        "clips come back in seed order"
    );
    for (_, baseline, version) in &first {
        assert_eq!(
            *version,
            if *baseline { 0 } else { 1 },
            "baselines are made by the parent"
        );
    }
    let share = first.iter().filter(|c| c.1).count() as f64 / first.len() as f64;
    assert!((0.1..=0.45).contains(&share), "baseline share {share}");
    assert_eq!(
        split(&mut worker),
        first,
        "the split is a function of the seed"
    );
}

/// The next event, with a generous timeout.
fn next(worker: &Worker) -> Event {
    worker
        .events()
        .recv_timeout(Duration::from_secs(60))
        .expect("worker went quiet")
}

#[test]
fn selecting_a_version_loads_it_at_once_and_a_bad_one_says_why() {
    let data = tempfile::tempdir().unwrap();
    publish_v1(data.path());
    let mut worker = Worker::spawn(config(None, Some(data.path().to_path_buf()))).unwrap();

    // Pinning the base loads it before any job, off the caller's thread.
    worker.select(Some(tiny::dir())).unwrap();
    assert!(
        matches!(next(&worker), Event::ModelLoaded { version: 0, ref dir, .. } if *dir == tiny::dir())
    );
    // Selecting what is loaded answers again (the editor waits for an answer) without a reload.
    worker.select(Some(tiny::dir())).unwrap();
    assert!(matches!(
        next(&worker),
        Event::ModelLoaded { version: 0, .. }
    ));

    let missing = data.path().join("models/gone");
    worker.select(Some(missing.clone())).unwrap();
    match next(&worker) {
        Event::ModelFailed { dir, reason } => {
            assert_eq!(dir, missing);
            assert!(reason.contains("cannot load the model"), "{reason}");
        }
        other => panic!("expected ModelFailed, got {other:?}"),
    }
    // A job after a failed selection fails too, rather than using a model nobody chose.
    let id = worker.submit(request(vec![1], 2)).unwrap();
    assert!(matches!(
        until_end(&worker, id).last(),
        Some(Event::Failed { .. })
    ));

    // Back to following the pointer: version 1.
    worker.select(None).unwrap();
    assert!(matches!(
        next(&worker),
        Event::ModelLoaded { version: 1, .. }
    ));
}
