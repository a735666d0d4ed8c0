//! Properties of the sampling loop: the RNG contract, determinism, recovery of x₀ with a perfect
//! denoiser, low strength, cancellation, errors, and batched == sequential.
use super::{schedule, EMB};
use proptest::prelude::*;
use refrain_engine::ddim::{
    timestep_embedding, BatchMode, Ddim, DdimError, DdimParams, Denoiser, NoiseSchedule, Sampler,
    SeededNoise, Start,
};
use refrain_engine::manifest::{BetaSchedule, ScheduleConfig};
use std::ops::ControlFlow;

/// A nonlinear denoiser that treats batch rows independently and uses `temb`.
fn generic(sample: &[f32], temb: &[f32], batch: usize) -> Result<Vec<f32>, DdimError> {
    let len = sample.len() / batch;
    Ok(sample
        .chunks_exact(len)
        .zip(temb.chunks_exact(EMB))
        .flat_map(|(x, e)| x.iter().map(move |v| 0.3 * v.tanh() + 0.01 * e[0]))
        .collect())
}

/// Predicts the exact noise that separates `sample` from `x0` at the timestep encoded in `temb`
/// (decoded from the lowest-frequency sine, which is monotonic over 0..1000).
struct Oracle {
    x0: Vec<f32>,
    schedule: NoiseSchedule,
}

impl Denoiser for Oracle {
    fn predict(
        &mut self,
        sample: &[f32],
        temb: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>, DdimError> {
        let half = EMB / 2;
        let f = (-(10_000f64.ln()) * (half - 1) as f64 / half as f64).exp();
        let len = sample.len() / batch;
        let mut out = Vec::with_capacity(sample.len());
        for (x, e) in sample.chunks_exact(len).zip(temb.chunks_exact(EMB)) {
            let t = (f64::from(e[EMB - 1]).asin() / f).round() as usize;
            let a = self.schedule.alpha_cumprod(t)?;
            out.extend(x.iter().zip(&self.x0).map(|(&xt, &x0)| {
                ((f64::from(xt) - a.sqrt() * f64::from(x0)) / (1.0 - a).sqrt()) as f32
            }));
        }
        Ok(out)
    }
}

/// Counts calls of the wrapped denoiser.
struct Counting<D> {
    inner: D,
    calls: usize,
}

impl<D: Denoiser> Denoiser for Counting<D> {
    fn predict(&mut self, s: &[f32], t: &[f32], b: usize) -> Result<Vec<f32>, DdimError> {
        self.calls += 1;
        self.inner.predict(s, t, b)
    }
}

/// Img2img: start from `latent` noised to `strength`.
fn start_at(latent: &[f32], strength: f64) -> Start<'_> {
    Start::Latent { latent, strength }
}

fn sampler() -> Sampler {
    Sampler::new(schedule(BetaSchedule::Linear), EMB)
}

fn latent(len: usize, seed: u64) -> Vec<f32> {
    SeededNoise::new(seed ^ 0xabcdef).next_vec(len)
}

fn run(
    s: &Sampler,
    start: Start<'_>,
    seeds: &[u64],
    steps: usize,
    eta: f64,
    d: &mut dyn Denoiser,
    mode: BatchMode,
) -> Result<Vec<Vec<f32>>, DdimError> {
    s.sample_batch(
        start,
        seeds,
        &DdimParams { steps, eta },
        d,
        mode,
        &mut |_, _| ControlFlow::Continue(()),
    )
}

#[test]
fn sampler_follows_the_rng_contract() {
    let s = sampler();
    let init = latent(16, 1);
    let (steps, eta, strength, seed) = (20, 0.5, 0.6, 7);
    let got = run(
        &s,
        start_at(&init, strength),
        &[seed],
        steps,
        eta,
        &mut generic,
        BatchMode::PerSeed,
    )
    .expect("sample");
    // The same loop by hand: starting noise first, then one draw per step.
    let ddim = Ddim::new(s.schedule(), steps).expect("ddim");
    let ts = ddim.img2img_timesteps(strength).expect("ts");
    let mut rng = SeededNoise::new(seed);
    let mut x = s
        .schedule()
        .q_sample(&init, &rng.next_vec(16), ts[0])
        .expect("q");
    for &t in ts {
        let eps = generic(&x, &timestep_embedding(t as f32, EMB), 1).expect("eps");
        x = ddim
            .step(t, &eps, &x, eta, Some(&rng.next_vec(16)))
            .expect("step");
    }
    assert_eq!(got, vec![x]);
}

#[test]
fn sampler_from_manifest_uses_its_schedule_and_embedding() {
    let manifest: refrain_engine::manifest::Manifest = serde_json::from_value(serde_json::json!({
        "format_version": 1, "name": "t", "version": 0, "created": "2026-11-01T00:00:00Z",
        "audio": refrain_engine::spectrogram::AudioConfig::default(),
        "latent": {"channels": 1, "height": 2, "width": 4, "scale": 1.0},
        "schedule": {"num_train_timesteps": 100, "beta_start": 0.001, "beta_end": 0.05,
                     "beta_schedule": "squaredcos_cap_v2", "prediction": "epsilon"},
        "unet": {"embedding_dim": 16}, "files": {}
    }))
    .expect("manifest");
    let s = Sampler::from_manifest(&manifest).expect("sampler");
    assert_eq!(s.embedding_dim(), 16);
    assert_eq!(s.schedule().num_train_timesteps(), 100);
    assert_eq!(
        s.schedule().config().beta_schedule,
        BetaSchedule::SquaredcosCapV2
    );
    assert_eq!(
        DdimParams::default(),
        DdimParams {
            steps: 50,
            eta: 0.0
        }
    );
}

#[test]
fn unconditional_starts_from_pure_noise_and_runs_every_step() {
    let s = sampler();
    let mut d = Counting {
        inner: generic,
        calls: 0,
    };
    let out = run(
        &s,
        Start::Noise { len: 8 },
        &[3],
        10,
        0.0,
        &mut d,
        BatchMode::OneCall,
    )
    .expect("sample");
    assert_eq!(d.calls, 10);
    let ddim = Ddim::new(s.schedule(), 10).expect("ddim");
    let mut x = SeededNoise::new(3).next_vec(8);
    for &t in ddim.timesteps() {
        let eps = generic(&x, &timestep_embedding(t as f32, EMB), 1).expect("eps");
        x = ddim.step(t, &eps, &x, 0.0, None).expect("step");
    }
    assert_eq!(out, vec![x]);
}

#[test]
fn strength_near_zero_returns_the_input() {
    let s = sampler();
    let init = latent(256, 2);
    // Below one step: no noise, no denoiser call, the input itself.
    let mut d = Counting {
        inner: generic,
        calls: 0,
    };
    let out = run(
        &s,
        start_at(&init, 1e-3),
        &[1],
        50,
        1.0,
        &mut d,
        BatchMode::OneCall,
    )
    .expect("sample");
    assert_eq!((d.calls, &out[0]), (0, &init));
    // One step at t = 0 even with a useless (zero) denoiser leaves only √(β₀/ᾱ₀)·ε ≈ 0.01·ε.
    let mut zero = |x: &[f32], _: &[f32], _: usize| Ok(vec![0.0; x.len()]);
    let out = run(
        &s,
        start_at(&init, 0.02),
        &[1],
        50,
        0.0,
        &mut zero,
        BatchMode::OneCall,
    )
    .expect("sample");
    let rms = (out[0]
        .iter()
        .zip(&init)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f32>()
        / 256.0)
        .sqrt();
    assert!(rms < 0.02 && rms > 0.0, "rms {rms}");
}

#[test]
fn nan_and_bad_shapes_are_errors() {
    let s = sampler();
    let init = latent(8, 3);
    let start = start_at(&init, 0.5);
    let mut calls = 0;
    let mut nan_on_third = |x: &[f32], _: &[f32], _: usize| {
        calls += 1;
        let mut v = vec![0.1; x.len()];
        if calls == 3 {
            v[5] = f32::NAN;
        }
        Ok(v)
    };
    let err = run(
        &s,
        start,
        &[1],
        50,
        0.0,
        &mut nan_on_third,
        BatchMode::OneCall,
    )
    .expect_err("nan");
    assert!(
        matches!(
            err,
            DdimError::NonFinite {
                index: 5,
                timestep: 440
            }
        ),
        "{err:?}"
    );

    let mut short = |x: &[f32], _: &[f32], _: usize| Ok(vec![0.0; x.len() - 1]);
    let err = run(&s, start, &[1], 50, 0.0, &mut short, BatchMode::OneCall).expect_err("short");
    assert!(matches!(err, DdimError::ShapeMismatch { .. }), "{err:?}");

    let mut failing =
        |_: &[f32], _: &[f32], _: usize| Err(DdimError::Denoiser("session lost".into()));
    let err = run(&s, start, &[1], 50, 0.0, &mut failing, BatchMode::OneCall).expect_err("fails");
    assert!(err.to_string().contains("session lost"), "{err}");

    let mut bad = init.clone();
    bad[2] = f32::INFINITY;
    let err = run(
        &s,
        start_at(&bad, 0.5),
        &[1],
        50,
        0.0,
        &mut generic,
        BatchMode::OneCall,
    )
    .expect_err("inf input");
    assert!(
        matches!(err, DdimError::NonFiniteInput { index: 2 }),
        "{err:?}"
    );
}

#[test]
fn invalid_parameters_are_refused() {
    let s = sampler();
    let init = latent(8, 4);
    let ok = start_at(&init, 0.5);
    let cases: [(Start<'_>, &[u64], usize, f64, &str); 9] = [
        (ok, &[1], 0, 0.0, "steps"),
        (ok, &[1], 1001, 0.0, "steps"),
        (ok, &[1], 10, -0.1, "eta"),
        (ok, &[1], 10, f64::NAN, "eta"),
        (ok, &[], 10, 0.0, "seeds"),
        (start_at(&init, 0.0), &[1], 10, 0.0, "strength"),
        (start_at(&init, 1.01), &[1], 10, 0.0, "strength"),
        (start_at(&init, f64::NAN), &[1], 10, 0.0, "strength"),
        (Start::Noise { len: 0 }, &[1], 10, 0.0, "latent"),
    ];
    for (start, seeds, steps, eta, param) in cases {
        let err = run(
            &s,
            start,
            seeds,
            steps,
            eta,
            &mut generic,
            BatchMode::OneCall,
        )
        .expect_err(param);
        assert!(
            matches!(err, DdimError::InvalidParam { param: p, .. } if p == param),
            "{param}: {err:?}"
        );
    }
    let bad = ScheduleConfig {
        beta_start: 0.0,
        ..Default::default()
    };
    assert!(matches!(
        NoiseSchedule::from_config(&bad),
        Err(DdimError::InvalidSchedule { .. })
    ));
    let ddim = Ddim::new(s.schedule(), 10).expect("ddim");
    assert!(
        ddim.step(900, &[0.0; 8], &init, 0.5, None).is_err(),
        "eta > 0 needs variance noise"
    );
}

#[test]
fn cancel_after_k_steps_calls_the_denoiser_k_times() {
    let s = sampler();
    let init = latent(8, 5);
    let start = start_at(&init, 0.25); // 5 of 20 steps
    for (mode, total) in [(BatchMode::OneCall, 5), (BatchMode::PerSeed, 15)] {
        for k in 0..=total {
            let mut d = Counting {
                inner: generic,
                calls: 0,
            };
            let mut seen_total = 0;
            let mut progress = |done: usize, total: usize| {
                seen_total = total;
                if done == k {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let params = DdimParams {
                steps: 20,
                eta: 1.0,
            };
            let res = s.sample_batch(start, &[1, 2, 3], &params, &mut d, mode, &mut progress);
            assert!(
                matches!(res, Err(DdimError::Cancelled)),
                "{mode:?} k={k}: {res:?}"
            );
            assert_eq!((d.calls, seen_total), (k, total), "{mode:?} k={k}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn same_seed_same_output(seed in any::<u64>(), strength in 0.05f64..=1.0, eta in 0.0f64..=1.0, steps in 1usize..30) {
        let s = sampler();
        let init = latent(12, seed);
        let start = start_at(&init, strength);
        let a = run(&s, start, &[seed], steps, eta, &mut generic, BatchMode::OneCall).expect("a");
        let b = run(&s, start, &[seed], steps, eta, &mut generic, BatchMode::OneCall).expect("b");
        prop_assert_eq!(&a, &b);
        if strength * steps as f64 >= 1.0 {
            let c = run(&s, start, &[seed.wrapping_add(1)], steps, eta, &mut generic, BatchMode::OneCall).expect("c");
            prop_assert_ne!(&a, &c);
        }
    }

    #[test]
    fn true_noise_oracle_recovers_x0(seed in any::<u64>(), strength in 0.001f64..=1.0, steps in 1usize..60, eta in prop_oneof![Just(0.0), 0.0f64..=1.0]) {
        let s = sampler();
        let x0 = latent(16, seed);
        let mut oracle = Oracle { x0: x0.clone(), schedule: s.schedule().clone() };
        let out = run(&s, start_at(&x0, strength), &[seed, seed ^ 1], steps, eta, &mut oracle, BatchMode::OneCall)
            .expect("sample");
        for x in out {
            for (a, b) in x.iter().zip(&x0) {
                prop_assert!((a - b).abs() <= 1e-4, "{} vs {}", a, b);
            }
        }
    }

    #[test]
    fn batched_equals_sequential(seeds in prop::collection::vec(any::<u64>(), 1..5), strength in 0.05f64..=1.0, eta in 0.0f64..=1.0, steps in 1usize..25) {
        let s = sampler();
        let init = latent(10, 9);
        let start = start_at(&init, strength);
        let batched = run(&s, start, &seeds, steps, eta, &mut generic, BatchMode::OneCall).expect("batched");
        let sequential = run(&s, start, &seeds, steps, eta, &mut generic, BatchMode::PerSeed).expect("sequential");
        prop_assert_eq!(&batched, &sequential);
        // And each clip is what that seed gives alone.
        for (seed, clip) in seeds.iter().zip(&batched) {
            let alone = run(&s, start, &[*seed], steps, eta, &mut generic, BatchMode::OneCall).expect("alone");
            prop_assert_eq!(&alone[0], clip);
        }
    }
}
