//! Clips that fit the session (issue 15): N bars at the host's tempo, continued window by
//! window, looping without a step, on the tiny fixture model.
mod support;

use refrain_engine::audio::Audio;
use refrain_engine::pipeline::tempo::{BarFit, Layout};
use refrain_engine::pipeline::{
    prepare, Clip, GenerateRequest, Pipeline, PipelineError, SeamSteps,
};
use std::ops::ControlFlow;
use support::tiny::{self, song};

/// A bar of four beats at `bpm`: a decaying 80 Hz kick on each beat over a held 330 Hz tone.
fn beat_loop(bpm: f64, bars: usize, rate: u32) -> Audio {
    let beat = (60.0 / bpm * rate as f64) as usize;
    let n = beat * 4 * bars;
    let two_pi = 2.0 * std::f32::consts::PI;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let since = (i % beat) as f32 / rate as f32;
            0.5 * (-since * 12.0).exp() * (two_pi * 80.0 * since).sin()
                + 0.1 * (two_pi * 330.0 * t).sin()
        })
        .collect();
    Audio::new(rate, vec![x]).unwrap()
}

fn fitted(bpm: f64, bars: u32, seeds: Vec<u64>) -> GenerateRequest {
    GenerateRequest {
        // Songs are made at 120 BPM whatever the fit asks (a tempo may be invalid on purpose).
        songs: vec![song("beat", beat_loop(120.0, 2, 44_100))],
        strength: 0.5,
        detail: 0.0,
        steps: 8,
        eta: 0.0,
        seeds,
        output_rate: 44_100,
        vocoder: None,
        fit: Some(BarFit {
            bpm,
            beats_per_bar: 4.0,
            bars,
        }),
    }
}

fn run(p: &mut Pipeline, r: &GenerateRequest) -> Result<Vec<Clip>, PipelineError> {
    p.generate(r, &mut |_| ControlFlow::Continue(()))
        .map(|(clips, _)| clips)
}

#[test]
fn a_fitted_clip_is_exactly_its_bars_and_loops_without_a_step() {
    let mut p = Pipeline::new(tiny::model()).unwrap();
    let request = fitted(120.0, 2, vec![1, 2]);
    let clips = run(&mut p, &request).unwrap();
    for clip in &clips {
        // Two bars of 4/4 at 120 BPM = 4 s, to the sample.
        assert_eq!(clip.audio.len(), 4 * 44_100);
        let steps = SeamSteps::of(&clip.audio);
        assert!(steps.is_seamless(), "seed {}: {steps:?}", clip.params.seed);
        assert!(steps.body_max > 0.0);
        assert_eq!(clip.params.fit, request.fit);
        assert!(clip
            .audio
            .iter()
            .all(|x| x.is_finite() && x.abs() <= 0.98 + 1e-6));
    }
    assert_ne!(clips[0].audio, clips[1].audio);
    // The same request gives the same clips.
    assert_eq!(run(&mut p, &request).unwrap()[0].audio, clips[0].audio);
}

#[test]
fn a_long_clip_is_continued_window_by_window_without_a_seam_step() {
    let mut p = Pipeline::new(tiny::model()).unwrap();
    let request = fitted(100.0, 8, vec![3]);
    let config = p.model().manifest().audio.clone();
    let layout = Layout::new(
        request.fit.unwrap(),
        &config,
        p.model().manifest().latent.width,
    );
    assert!(layout.windows >= 3, "{layout:?}");
    let mut steps_seen = Vec::new();
    let (clips, _) = p
        .generate(&request, &mut |progress| {
            steps_seen.push(progress);
            ControlFlow::Continue(())
        })
        .unwrap();
    let clip = &clips[0].audio;
    // Eight bars of 4/4 at 100 BPM = 19.2 s.
    assert_eq!(clip.len(), (19.2f64 * 44_100.0).round() as usize);
    assert!(SeamSteps::of(clip).is_seamless());
    // Where window k + 1 takes over from window k, in output samples.
    let to_output = 44_100.0 / (config.sample_rate as f64 * layout.stretch());
    let overlap = layout.window_samples - layout.shift_samples;
    let half = ((overlap / 4) as f64 * to_output) as usize;
    let joins: Vec<usize> = (1..layout.windows)
        .map(|k| ((k * layout.shift_samples + overlap / 2) as f64 * to_output) as usize)
        .filter(|&at| at + half < clip.len())
        .collect();
    assert!(joins.len() >= 2, "joins {joins:?}");
    let near_a_join = |i: usize| joins.iter().any(|&j| i + half >= j && i <= j + half);
    let (mut at_joins, mut elsewhere) = (0.0f32, 0.0f32);
    for (i, w) in clip.windows(2).enumerate() {
        let step = (w[1] - w[0]).abs();
        if near_a_join(i) {
            at_joins = at_joins.max(step);
        } else {
            elsewhere = elsewhere.max(step);
        }
    }
    assert!(
        at_joins <= elsewhere,
        "largest step at a join {at_joins} > elsewhere {elsewhere}"
    );
    // Each window adds music, not silence: every second of the clip carries sound.
    for second in clip.chunks(44_100) {
        let rms = (second.iter().map(|v| v * v).sum::<f32>() / second.len() as f32).sqrt();
        assert!(rms > 0.01, "a quiet stretch: rms {rms}");
    }
    // Progress counts every window's steps and ends at its total.
    let last_step = steps_seen.iter().rev().find_map(|p| match p {
        refrain_engine::pipeline::Progress::Step { step, total } => Some((*step, *total)),
        _ => None,
    });
    let (step, total) = last_step.unwrap();
    assert_eq!(step, total);
    assert_eq!(total, 4 * layout.windows);
}

#[test]
fn a_one_bar_song_fills_the_window_as_a_loop() {
    let config = tiny::model().manifest().audio.clone();
    let fit = BarFit {
        bpm: 120.0,
        beats_per_bar: 4.0,
        bars: 1,
    };
    let layout = Layout::new(fit, &config, 32);
    let input = song("one bar", beat_loop(120.0, 1, 48_000));
    let window = prepare(&input, &config, Some(&layout)).unwrap().window;
    assert_eq!(window.len(), config.window_samples());
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let quarter = window.len() / 4;
    let (head, tail) = (rms(&window[..quarter]), rms(&window[3 * quarter..]));
    assert!(
        tail > 0.5 * head,
        "head {head}, tail {tail}: the bar was not repeated"
    );
}

#[test]
fn impossible_tempi_and_bar_counts_are_clear_errors() {
    let mut p = Pipeline::new(tiny::model()).unwrap();
    for (bpm, bars) in [
        (0.0, 2),
        (f64::NAN, 2),
        (1000.0, 2),
        (120.0, 0),
        (120.0, 1000),
    ] {
        let request = fitted(bpm, bars, vec![1]);
        match run(&mut p, &request) {
            Err(PipelineError::InvalidRequest(message)) => {
                assert!(
                    message.contains("tempo") || message.contains("bars"),
                    "{message}"
                )
            }
            other => panic!("{bpm} BPM, {bars} bars: {other:?}"),
        }
    }
}
