//! The generation pipeline on the tiny fixture model: determinism, batching, strength, cancel,
//! and bad input (silence, NaN, long songs, odd rates) as errors or correct results, never panics.
mod support;

use refrain_engine::audio::Audio;
use refrain_engine::pipeline::{
    prepare, GenerateRequest, Pipeline, PipelineError, Progress, SongInput, Timings,
};
use refrain_engine::spectrogram::{GriffinLim, MelTransform};
use std::ops::ControlFlow;
use support::tiny::{self, song};

fn pipeline() -> Pipeline {
    Pipeline::new(tiny::model()).unwrap()
}

fn chord(seconds: f64, rate: u32) -> Audio {
    let n = (seconds * rate as f64) as usize;
    let left: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 331.0 * t).sin()
        })
        .collect();
    Audio::new(rate, vec![left.clone(), left]).unwrap()
}

fn request(songs: Vec<SongInput>, seeds: Vec<u64>) -> GenerateRequest {
    GenerateRequest {
        songs,
        strength: 0.5,
        detail: 0.0,
        steps: 10,
        eta: 0.0,
        seeds,
        output_rate: 44_100,
        vocoder: None,
        fit: None,
    }
}

fn run(
    p: &mut Pipeline,
    r: &GenerateRequest,
) -> Result<Vec<refrain_engine::pipeline::Clip>, PipelineError> {
    p.generate(r, &mut |_| ControlFlow::Continue(()))
        .map(|(clips, _)| clips)
}

#[test]
fn same_seed_same_clip_and_batches_equal_single_runs() {
    let mut p = pipeline();
    let songs = vec![song("a", chord(8.0, 48_000)), song("b", chord(7.0, 44_100))];
    let batch = run(&mut p, &request(songs.clone(), vec![1, 2, 3])).unwrap();
    assert_eq!(batch.len(), 3);
    let expected_len = (131_071.0f64 * 44_100.0 / 22_050.0).round() as usize;
    for (clip, seed) in batch.iter().zip([1, 2, 3]) {
        assert_eq!(clip.audio.len(), expected_len);
        assert!(clip
            .audio
            .iter()
            .all(|x| x.is_finite() && x.abs() <= 0.98 + 1e-6));
        let single = run(&mut p, &request(songs.clone(), vec![seed])).unwrap();
        assert_eq!(
            single[0].audio, clip.audio,
            "seed {seed}: batched differs from single"
        );
        assert_eq!(single[0].params, clip.params);
    }
    assert_ne!(
        batch[0].audio, batch[1].audio,
        "different seeds must differ"
    );
    assert_eq!(batch[0].params.songs.len(), 2);
    assert_eq!(batch[0].params.model, "refrain-tiny-test");
}

#[test]
fn strength_near_zero_returns_the_round_trip() {
    let mut p = pipeline();
    let mut r = request(vec![song("a", chord(8.0, 22_050))], vec![9]);
    r.strength = 0.01; // int(10 · 0.01) = 0 steps: the latent is not touched
    r.output_rate = 22_050;
    let clip = run(&mut p, &r).unwrap().remove(0);
    assert_eq!(clip.latent, clip.condition);
    let mut timings = Timings::default();
    let direct = p.render_latent(&clip.condition, 9, &mut timings).unwrap();
    let err = peak_matched_diff(&clip.audio, &direct);
    assert!(err < 1e-4, "round trip differs by {err}");
}

#[test]
fn timings_add_stage_by_stage() {
    let a = Timings {
        resample_in: 1.0,
        mel: 2.0,
        encode: 3.0,
        unet: 4.0,
        decode: 5.0,
        vocoder: 6.0,
        resample_out: 7.0,
    };
    let mut sum = a + a;
    assert_eq!(
        (sum.resample_in, sum.unet, sum.resample_out),
        (2.0, 8.0, 14.0)
    );
    assert_eq!(sum.total(), 2.0 * a.total());
    sum += Timings::default();
    assert_eq!(sum.total(), 56.0);
}

#[test]
fn cancel_stops_within_a_step() {
    let mut p = pipeline();
    let r = request(vec![song("a", chord(8.0, 44_100))], vec![1, 2]);
    let mut steps_seen = 0;
    let result = p.generate(&r, &mut |event| match event {
        Progress::Step { step, .. } if step >= 2 => {
            steps_seen = step;
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    assert!(
        result
            .as_ref()
            .err()
            .is_some_and(PipelineError::is_cancelled),
        "{:?}",
        result.err()
    );
    assert_eq!(steps_seen, 2);
}

#[test]
fn unconditional_sampling_works() {
    let mut p = pipeline();
    let clips = run(&mut p, &request(vec![], vec![5])).unwrap();
    assert_eq!(clips[0].params.strength, 1.0);
    assert!(clips[0].condition.is_empty());
    assert!(clips[0].audio.iter().all(|x| x.is_finite()));
}

#[test]
fn bad_songs_are_clear_errors() {
    let mut p = pipeline();
    let silent = Audio::new(44_100, vec![vec![0.0; 44_100 * 8]]).unwrap();
    let err = run(&mut p, &request(vec![song("quiet", silent)], vec![1]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("quiet") && err.contains("silent"), "{err}");

    let mut late = song("short", chord(3.0, 44_100));
    late.offset_s = Some(10.0);
    let err = run(&mut p, &request(vec![late], vec![1]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("short") && err.contains("past its end"),
        "{err}"
    );

    let huge = Audio::new(8_000, vec![vec![0.1; 8_000 * 60 * 31]]).unwrap();
    let err = run(&mut p, &request(vec![song("huge", huge)], vec![1]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("huge") && err.contains("min"), "{err}");

    let mut r = request(vec![song("a", chord(8.0, 44_100))], vec![1]);
    r.strength = 0.0;
    assert!(matches!(
        run(&mut p, &r),
        Err(PipelineError::InvalidRequest(_))
    ));
    r.strength = 0.5;
    r.seeds.clear();
    assert!(matches!(
        run(&mut p, &r),
        Err(PipelineError::InvalidRequest(_))
    ));
}

#[test]
fn nan_long_and_odd_rate_songs_give_correct_results() {
    let mut p = pipeline();
    let mut noisy = chord(8.0, 44_100);
    for i in (0..noisy.channels[0].len()).step_by(97) {
        noisy.channels[0][i] = f32::NAN;
    }
    let long = chord(600.0, 8_000); // a 10-minute song: only its window is resampled
    let hi = chord(7.0, 192_000);
    let songs = vec![
        song("nan", noisy),
        song("ten-minutes", long),
        song("192k", hi),
    ];
    let clips = run(&mut p, &request(songs, vec![3])).unwrap();
    let used = &clips[0].params.songs;
    assert!(used[0].replaced_samples > 0);
    assert!(clips[0].audio.iter().all(|x| x.is_finite()));
    let mut r = request(vec![song("8k", chord(8.0, 8_000))], vec![1]);
    r.output_rate = 192_000;
    let clip = run(&mut p, &r).unwrap().remove(0);
    assert_eq!(
        clip.audio.len(),
        (131_071.0f64 * 192_000.0 / 22_050.0).round() as usize
    );
}

#[test]
fn clips_carry_each_songs_latent_and_their_merge() {
    let mut p = pipeline();
    let songs = vec![song("a", chord(8.0, 48_000)), song("b", chord(3.0, 22_050))];
    let clip = run(&mut p, &request(songs, vec![4])).unwrap().remove(0);
    assert_eq!(clip.song_latents.len(), 2);
    assert_ne!(clip.song_latents[0], clip.song_latents[1]);
    // The condition is the weighted SLERP merge of exactly these latents.
    let refs: Vec<&[f32]> = clip.song_latents.iter().map(Vec::as_slice).collect();
    let weights: Vec<f32> = clip.params.songs.iter().map(|u| u.weight).collect();
    let merged = refrain_engine::latent::merge(&refs, Some(&weights)).unwrap();
    assert_eq!(merged, clip.condition);
}

/// Largest sample difference once `b` is scaled to `a`'s peak (clips are loudness-matched).
fn peak_matched_diff(a: &[f32], b: &[f32]) -> f32 {
    let peak = |x: &[f32]| x.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    let gain = peak(a) / peak(b);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y * gain).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn full_detail_without_denoising_gives_back_the_songs_own_mel() {
    let mut p = pipeline();
    let input = song("a", chord(8.0, 22_050));
    let config = p.model().manifest().audio.clone();
    let window = prepare(&input, &config, None).unwrap().window;
    let mut transform = MelTransform::new(&config).unwrap();
    let mel = transform.to_model(&window).unwrap();
    let dsp = transform
        .from_model(&mel, GriffinLim::fast(config.griffin_lim_iters, 9))
        .unwrap();

    let mut r = request(vec![input], vec![9]);
    r.strength = 0.01; // no denoising: the song's share is all of it
    r.output_rate = 22_050;
    r.detail = 1.0;
    let restored = run(&mut p, &r).unwrap().remove(0);
    assert_eq!(restored.params.detail, 1.0);
    let err = peak_matched_diff(&restored.audio, &dsp);
    assert!(
        err < 1e-4,
        "song's own mel through Griffin-Lim differs by {err}"
    );
    // Without it the tiny autoencoder's reconstruction is far from the song.
    r.detail = 0.0;
    let plain = run(&mut p, &r).unwrap().remove(0);
    let far = peak_matched_diff(&plain.audio, &dsp);
    assert!(far > 0.05, "the round trip is already the song ({far})");
}

#[test]
fn detail_changes_what_is_heard_not_what_is_learned() {
    let mut p = pipeline();
    let songs = vec![song("a", chord(8.0, 44_100)), song("b", chord(6.0, 48_000))];
    let mut r = request(songs, vec![3]);
    let plain = run(&mut p, &r).unwrap().remove(0);
    r.detail = 1.0;
    let detailed = run(&mut p, &r).unwrap().remove(0);
    assert_eq!(
        plain.latent, detailed.latent,
        "the trainer's latent is untouched"
    );
    assert_ne!(plain.audio, detailed.audio);
    assert_eq!((plain.params.detail, detailed.params.detail), (0.0, 1.0));
    // Unconditional clips have no song to take detail from.
    let mut u = request(vec![], vec![5]);
    u.detail = 1.0;
    assert_eq!(run(&mut p, &u).unwrap()[0].params.detail, 0.0);
    for bad in [f64::NAN, -0.1, 1.5] {
        r.detail = bad;
        match run(&mut p, &r) {
            Err(PipelineError::InvalidRequest(m)) => assert!(m.contains("detail"), "{m}"),
            other => panic!("detail {bad}: {:?}", other.map(|c| c.len())),
        }
    }
}

#[test]
fn a_song_generated_from_before_is_not_encoded_again() {
    let mut p = pipeline();
    let songs = vec![song("a", chord(8.0, 48_000))];
    let mut req = request(songs, vec![4]);
    req.detail = 1.0;
    let timed = |p: &mut Pipeline, r: &GenerateRequest| {
        p.generate(r, &mut |_| ControlFlow::Continue(())).unwrap()
    };
    let (first, t1) = timed(&mut p, &req);
    assert!(t1.encode > 0.0, "the first request encodes its song");
    let (again, t2) = timed(&mut p, &req);
    assert_eq!(
        (t2.mel, t2.encode),
        (0.0, 0.0),
        "the same song again is neither analysed nor encoded"
    );
    assert_eq!(again[0].audio, first[0].audio, "and renders the same clip");
    assert_eq!(again[0].song_latents, first[0].song_latents);
    // Without Detail the residual is not needed: a separate entry, computed once.
    req.detail = 0.0;
    let (_, t3) = timed(&mut p, &req);
    assert!(t3.encode > 0.0);
    // Another window of the song is another song.
    req.songs[0].offset_s = Some(1.0);
    let (_, t4) = timed(&mut p, &req);
    assert!(t4.encode > 0.0, "a different window is encoded");
    p.clear_song_cache();
    let (cleared, t5) = timed(&mut p, &req);
    assert!(t5.encode > 0.0, "cleared: encoded again");
    assert!(cleared[0].audio.iter().all(|x| x.is_finite()));
}

#[test]
fn a_request_without_a_vocoder_goes_back_to_the_versions_own() {
    // The plugin's "Model default" after an explicit choice: the version's vocoder again, not
    // the last one a request named.
    let mut p = pipeline();
    let own = p.vocoder_name();
    let songs = vec![song("a", chord(6.0, 22_050))];
    let mut r = request(songs, vec![1]);
    let other = if own == refrain_engine::vocoder::PGHI {
        refrain_engine::vocoder::GRIFFIN_LIM
    } else {
        refrain_engine::vocoder::PGHI
    };
    r.vocoder = Some(other.to_string());
    assert_eq!(run(&mut p, &r).unwrap()[0].params.vocoder, other);
    r.vocoder = None;
    assert_eq!(run(&mut p, &r).unwrap()[0].params.vocoder, own);
    assert_eq!(p.vocoder_name(), own);
}
