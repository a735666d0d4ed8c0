//! engine::ddim against the diffusers reference fixtures (scripts/make_ddim_fixtures.py), the
//! RNG contract, and properties of the sampling loop.
use refrain_engine::ddim::{
    timestep_embedding, timestep_embeddings, Ddim, DdimError, NoiseSchedule, SeededNoise,
};
use refrain_engine::manifest::{BetaSchedule, ScheduleConfig};
use serde_json::Value;
use std::path::PathBuf;

#[path = "ddim/sampling.rs"]
mod sampling;

/// Width of the timestep embedding used throughout these tests.
const EMB: usize = 64;

fn fixtures() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ddim/ddim.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("ddim.json")).expect("parses")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as usize)
        .collect()
}

/// |a − b| ≤ 1e-5·|b| (plus a 1e-6 floor for values that are 0 in the reference).
fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs() + 1e-6,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

fn schedule(kind: BetaSchedule) -> NoiseSchedule {
    NoiseSchedule::from_config(&ScheduleConfig {
        beta_schedule: kind,
        ..Default::default()
    })
    .expect("schedule")
}

#[test]
fn alphas_cumprod_match_diffusers() {
    let fx = fixtures();
    for (name, kind) in [
        ("linear", BetaSchedule::Linear),
        ("scaled_linear", BetaSchedule::ScaledLinear),
        ("squaredcos_cap_v2", BetaSchedule::SquaredcosCapV2),
    ] {
        let s = &fx["schedules"][name];
        let config = ScheduleConfig {
            num_train_timesteps: s["num_train_timesteps"].as_u64().expect("T") as usize,
            beta_start: s["beta_start"].as_f64().expect("b0"),
            beta_end: s["beta_end"].as_f64().expect("b1"),
            beta_schedule: kind,
            ..Default::default()
        };
        let sched = NoiseSchedule::from_config(&config).expect("schedule");
        let idx = usizes(&s["indices"]);
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
        assert_close(
            &format!("{name} betas"),
            &pick(sched.betas()),
            &f64s(&s["betas"]),
        );
        assert_close(
            &format!("{name} ᾱ"),
            &pick(sched.alphas_cumprod()),
            &f64s(&s["alphas_cumprod"]),
        );
    }
}

#[test]
fn timesteps_match_diffusers_img2img() {
    let sched = schedule(BetaSchedule::Linear);
    for case in fixtures()["timesteps"].as_array().expect("cases") {
        let steps = case["steps"].as_u64().expect("steps") as usize;
        let strength = case["strength"].as_f64().expect("strength");
        let ddim = Ddim::new(&sched, steps).expect("ddim");
        let got = ddim.img2img_timesteps(strength).expect("timesteps");
        assert_eq!(
            got,
            usizes(&case["timesteps"]).as_slice(),
            "steps {steps} strength {strength}"
        );
    }
}

#[test]
fn timestep_embedding_matches_diffusers() {
    for case in fixtures()["embeddings"].as_array().expect("cases") {
        let t = case["t"].as_f64().expect("t") as f32;
        let dim = case["dim"].as_u64().expect("dim") as usize;
        let got: Vec<f64> = timestep_embedding(t, dim)
            .into_iter()
            .map(f64::from)
            .collect();
        assert_close(
            &format!("temb t={t} dim={dim}"),
            &got,
            &f64s(&case["embedding"]),
        );
    }
    let rows = timestep_embeddings(&[3.0, 7.0], 16);
    assert_eq!(&rows[..16], timestep_embedding(3.0, 16).as_slice());
    assert_eq!(&rows[16..], timestep_embedding(7.0, 16).as_slice());
}

#[test]
fn q_sample_matches_diffusers_add_noise() {
    let fx = fixtures();
    let sched = schedule(BetaSchedule::Linear);
    let (x0, noise) = (f32s(&fx["x0"]), f32s(&fx["noise"]));
    for case in fx["q_sample"].as_array().expect("cases") {
        let t = case["t"].as_u64().expect("t") as usize;
        let got: Vec<f64> = sched
            .q_sample(&x0, &noise, t)
            .expect("q")
            .into_iter()
            .map(f64::from)
            .collect();
        assert_close(&format!("q_sample t={t}"), &got, &f64s(&case["x_t"]));
    }
    assert!(matches!(
        sched.q_sample(&x0, &noise, 1000),
        Err(DdimError::InvalidParam { .. })
    ));
    assert!(matches!(
        sched.q_sample(&x0, &noise[..3], 5),
        Err(DdimError::ShapeMismatch { .. })
    ));
}

#[test]
fn ddim_trajectories_match_diffusers() {
    let fx = fixtures();
    let sched = schedule(BetaSchedule::Linear);
    let (x0, noise) = (f32s(&fx["x0"]), f32s(&fx["noise"]));
    let step_noises: Vec<Vec<f32>> = fx["step_noises"]
        .as_array()
        .expect("rows")
        .iter()
        .map(f32s)
        .collect();
    for tr in fx["trajectories"].as_array().expect("cases") {
        let (steps, strength, eta) = (
            tr["steps"].as_u64().expect("steps") as usize,
            tr["strength"].as_f64().expect("strength"),
            tr["eta"].as_f64().expect("eta"),
        );
        let ddim = Ddim::new(&sched, steps).expect("ddim");
        let ts = ddim.img2img_timesteps(strength).expect("ts");
        assert_eq!(ts, usizes(&tr["timesteps"]).as_slice());
        let want = tr["xs"].as_array().expect("xs");
        let mut x = sched.q_sample(&x0, &noise, ts[0]).expect("q");
        for (i, &t) in ts.iter().enumerate() {
            let eps: Vec<f32> = x.iter().map(|v| 0.1 * v).collect();
            x = ddim
                .step(t, &eps, &x, eta, Some(&step_noises[i]))
                .expect("step");
            let got: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            assert_close(
                &format!("strength {strength} eta {eta} step {i}"),
                &got,
                &f64s(&want[i + 1]),
            );
        }
    }
}

#[test]
fn seeded_noise_is_pinned() {
    // The RNG contract: these values must never change (ChaCha8 seed_from_u64 + StandardNormal).
    let got = SeededNoise::new(42).next_vec(4);
    let want = PINNED_SEED_42;
    assert_eq!(got, want, "noise stream for seed 42 changed: {got:?}");
    let mut split = SeededNoise::new(42);
    let mut a = vec![0.0; 3];
    let mut b = vec![0.0; 1];
    split.fill(&mut a);
    split.fill(&mut b);
    assert_eq!(
        [a, b].concat(),
        got,
        "chunked draws continue the same stream"
    );
    assert_ne!(SeededNoise::new(43).next_vec(4), got);
}

const PINNED_SEED_42: [f32; 4] = [0.477_981_24, 1.334_070_6, -0.210_866_69, 0.476_346_9];

#[test]
fn clip_sample_clamps_the_clean_estimate_as_diffusers_does() {
    let plain = schedule(BetaSchedule::Linear);
    let clipping = NoiseSchedule::from_config(&ScheduleConfig {
        clip_sample: true,
        ..Default::default()
    })
    .expect("schedule");
    let (t, r) = (500, 100);
    let a_t = plain.alpha_cumprod(t).expect("ᾱ_t");
    let a_prev = plain.alpha_cumprod(t - r).expect("ᾱ_prev");
    // x₀ estimate (x − √(1−ᾱ)·ε)/√ᾱ: 5/√ᾱ_t (far above 1) and −0.2/√ᾱ_t (inside).
    let (sample, eps) = ([5.0f32, -0.2], [0.0f32, 0.0]);
    let off = Ddim::new(&plain, 10)
        .unwrap()
        .step(t, &eps, &sample, 0.0, None)
        .unwrap();
    let on = Ddim::new(&clipping, 10)
        .unwrap()
        .step(t, &eps, &sample, 0.0, None)
        .unwrap();
    let x0 = |x: f64| x / a_t.sqrt();
    assert!((f64::from(off[0]) - a_prev.sqrt() * x0(5.0)).abs() < 1e-4);
    assert!(
        (f64::from(on[0]) - a_prev.sqrt()).abs() < 1e-5,
        "clamped to 1: {}",
        on[0]
    );
    assert!(
        (f64::from(on[1]) - a_prev.sqrt() * x0(-0.2)).abs() < 1e-5,
        "inside the range: unchanged"
    );
}
