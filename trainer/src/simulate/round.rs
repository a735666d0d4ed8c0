//! One simulated listening session: the current version generates each request's clip and a
//! second one to compare it with — the base's on the same request after the first fine-tune
//! (stored as a blind baseline clip), another seed of the same request in round 0 — virtual
//! producers rate both, and everything goes into the feedback store as the plugin would write it.
//! With [`Pairs::Within`] every round pairs two seeds of the current version instead, and the
//! base's clip is rated by the panel for the win rate only (its rating is not stored, so the
//! fine-tune never sees it).
use super::metrics::{diversity, mean, win_rate, RequestOutcome, VersionMetrics};
use super::rater::Rater;
use super::scorer::Scorer;
use super::SimError;
use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use refrain_engine::audio::Audio;
use refrain_engine::feedback::{FeedbackStore, NewGeneration, NewRating, SongId, Uid};
use refrain_engine::pipeline::{GenerateRequest, Pipeline, SongInput};
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;

/// A conditioning song known to the store.
pub struct Song {
    /// Row id in the store.
    pub id: SongId,
    /// Name for the request.
    pub name: String,
    /// Its audio.
    pub audio: Audio,
}

/// One request of a round: which songs, with which weights, and the seed.
#[derive(Debug, Clone)]
pub struct Request {
    songs: Vec<(usize, f32)>,
    seed: u64,
}

/// The simulation's requests, drawn from `seed` alone so every arm and every round hears the
/// same ones.
pub fn requests(seed: u64, n: usize, songs: usize) -> Vec<Request> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA24B_AED4_963E_E407);
    (0..n)
        .map(|_| {
            let first = rng.random_range(0..songs);
            let mut picks = vec![(first, 1.0f32)];
            if songs > 1 && rng.random::<f32>() < 0.5 {
                let second = (first + rng.random_range(1..songs)) % songs;
                picks.push((second, rng.random_range(0.3..1.0)));
            }
            Request {
                songs: picks,
                seed: rng.random::<u64>() >> 11,
            }
        })
        .collect()
}

/// What each request's stored clip is paired with after round 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pairs {
    /// The base's clip for the same request (a blind baseline twin), rated and stored.
    #[default]
    Base,
    /// Another seed of the current version, rated and stored; the base's clip is rated for
    /// the win rate only.
    Within,
}

/// Generation settings of the simulation.
#[derive(Debug, Clone, Copy)]
pub struct Generation {
    /// Strength of the variations.
    pub strength: f64,
    /// DDIM steps.
    pub steps: usize,
}

/// A clip made for a request, with what the raters measure.
pub struct Made {
    score: f32,
    latent: Vec<f32>,
    clip_ms: u64,
    clip: refrain_engine::feedback::ClipId,
}

/// Generates one request's clip with `pipe` (from `seed`) and stores it; returns it with its
/// audio and stored WAV for the scorer (its score is set once the round is scored).
#[allow(clippy::too_many_arguments)]
fn make(
    pipe: &mut Pipeline,
    store: &mut FeedbackStore,
    songs: &[Song],
    r: &Request,
    seed: u64,
    g: Generation,
    baseline: bool,
    request_uid: Uid,
) -> Result<(Made, Vec<f32>, std::path::PathBuf), SimError> {
    let config = pipe.model().manifest().audio.clone();
    let request = GenerateRequest {
        songs: r
            .songs
            .iter()
            .map(|&(i, w)| SongInput {
                name: songs[i].name.clone(),
                audio: songs[i].audio.clone(),
                offset_s: Some(0.0),
                weight: w,
            })
            .collect(),
        strength: g.strength,
        // Off, as when the loop's numbers in the README were measured: the trainer learns from
        // latents, so detail only changes what the virtual producers hear, for both arms alike.
        detail: 0.0,
        steps: g.steps,
        eta: 0.0,
        seeds: vec![seed],
        output_rate: config.sample_rate,
        vocoder: None,
        fit: None,
    };
    let (clips, _) = pipe.generate(&request, &mut |_| ControlFlow::Continue(()))?;
    let clip = clips
        .into_iter()
        .next()
        .ok_or_else(|| SimError::Invalid("the pipeline returned no clip".into()))?;
    let clip_ms = (clip.audio.len() as u64 * 1000 / u64::from(config.sample_rate.max(1))).max(1);
    let id = store.add_generation(NewGeneration {
        song_ids: r.songs.iter().map(|&(i, _)| songs[i].id).collect(),
        weights: r.songs.iter().map(|&(_, w)| w).collect(),
        seed,
        strength: g.strength as f32,
        steps: g.steps as u32,
        eta: 0.0,
        detail: clip.params.detail as f32,
        model_version: pipe.model().manifest().version,
        is_baseline: baseline,
        audio: clip.audio.clone(),
        sample_rate: config.sample_rate,
        latent: clip.latent.clone(),
        request: Some(request_uid),
    })?;
    let wav = store.generation(id)?.wav_path;
    let made = Made {
        score: 0.0,
        latent: clip.latent,
        clip_ms,
        clip: id,
    };
    Ok((made, clip.audio, wav))
}

/// What a rater said about a clip.
struct Heard {
    stars: Option<f32>,
    utility: Option<f32>,
}

/// `rater`'s verdict on `made`, stored as a rating when `keep` (else heard by the panel only).
fn rate(
    store: &mut FeedbackStore,
    rater: &Rater,
    made: &Made,
    keep: bool,
    rng: &mut ChaCha8Rng,
) -> Result<Heard, SimError> {
    let d = rater.rate(made.score, made.clip_ms, rng);
    if keep {
        store.add_rating(&NewRating::new(
            made.clip,
            d.accepted,
            Some(d.stars),
            d.listen_ms,
            made.clip_ms,
            rater.id.clone(),
        ))?;
    }
    Ok(Heard {
        stars: d.utility.map(|_| f32::from(d.stars)),
        utility: d.utility,
    })
}

/// A round's clips: `ours` from the current version, `theirs` from the base on the same
/// requests (empty in the first round, when the current version is the base), `second` the
/// current version's clip from another seed (round 0, and every round with [`Pairs::Within`]:
/// a pair for a preference objective).
pub struct RoundClips {
    version: u32,
    ours: Vec<Made>,
    theirs: Vec<Made>,
    second: Vec<Made>,
    /// Whether the ratings of `theirs` are stored (with [`Pairs::Within`] they are not).
    keep_theirs: bool,
}

impl RoundClips {
    /// Taste scores of the current version's clips (the request's own seed).
    pub fn scores(&self) -> Vec<f32> {
        self.ours.iter().map(|m| m.score).collect()
    }
}

/// Generates and stores every request's clip through `current`, its comparison clip through
/// `base` when given, and a second seed through `current` when there is no base or `pairs` asks
/// for pairs within the version; then scores them all with `scorer` in one call.
#[allow(clippy::too_many_arguments)]
pub fn generate_round(
    current: &mut Pipeline,
    mut base: Option<&mut Pipeline>,
    store: &mut FeedbackStore,
    songs: &[Song],
    requests: &[Request],
    g: Generation,
    scorer: &Scorer,
    pairs: Pairs,
) -> Result<RoundClips, SimError> {
    let config = current.model().manifest().audio.clone();
    let within = base.is_none() || pairs == Pairs::Within;
    let mut clips = RoundClips {
        version: current.model().manifest().version,
        ours: Vec::with_capacity(requests.len()),
        theirs: Vec::new(),
        second: Vec::new(),
        keep_theirs: pairs == Pairs::Base,
    };
    let mut heard = Vec::with_capacity(3 * requests.len());
    for r in requests {
        // One request: the clip and its comparisons share it. Made from the round's version and
        // the request's seed, so a simulation stays reproducible.
        let uid = Uid(u128::from(clips.version) << 64 | u128::from(r.seed));
        let (made, audio, wav) = make(current, store, songs, r, r.seed, g, false, uid)?;
        clips.ours.push(made);
        heard.push((audio, wav));
        if let Some(base) = base.as_deref_mut() {
            let (made, audio, wav) = make(base, store, songs, r, r.seed, g, true, uid)?;
            clips.theirs.push(made);
            heard.push((audio, wav));
        }
        if within {
            let seed = second_seed(r.seed);
            let (made, audio, wav) = make(current, store, songs, r, seed, g, false, uid)?;
            clips.second.push(made);
            heard.push((audio, wav));
        }
    }
    let inputs: Vec<(&[f32], std::path::PathBuf)> = heard
        .iter()
        .map(|(audio, wav)| (audio.as_slice(), wav.clone()))
        .collect();
    let scores = scorer
        .score(&inputs, &config)
        .map_err(|e| SimError::Invalid(e.to_string()))?;
    // `heard` holds, per request, its clip, then the base's, then the second seed's.
    let mut scores = scores.into_iter();
    let (mut theirs, mut second) = (clips.theirs.iter_mut(), clips.second.iter_mut());
    for made in clips.ours.iter_mut() {
        let slots = [Some(made), theirs.next(), second.next()];
        for slot in slots.into_iter().flatten() {
            slot.score = scores.next().unwrap_or(f32::NAN);
        }
    }
    Ok(clips)
}

/// The seed of round 0's second clip for a request: fixed by the request's, never equal to it.
fn second_seed(seed: u64) -> u64 {
    seed ^ 0x9E37_79B9_7F4A_7C15
}

/// Each request's clip (and its baseline twin) rated by one randomly chosen rater, blind;
/// returns the round's metrics (pool/guard fields are filled by the caller).
pub fn rate_round(
    store: &mut FeedbackStore,
    clips: &RoundClips,
    raters: &[Rater],
    seed: u64,
) -> Result<VersionMetrics, SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ours = Vec::with_capacity(clips.ours.len());
    let mut theirs = Vec::with_capacity(clips.theirs.len());
    let mut seconds = 0;
    for (i, made) in clips.ours.iter().enumerate() {
        let rater = &raters[rng.random_range(0..raters.len())];
        ours.push(rate(store, rater, made, true, &mut rng)?);
        if let Some(twin) = clips.theirs.get(i) {
            theirs.push(rate(store, rater, twin, clips.keep_theirs, &mut rng)?);
        }
        if let Some(second) = clips.second.get(i) {
            rate(store, rater, second, true, &mut rng)?;
            seconds += 1;
        }
    }
    let pairs = || ours.iter().zip(&theirs);
    let div = |v: &[Made]| diversity(&v.iter().map(|m| m.latent.as_slice()).collect::<Vec<_>>());
    let diversity_ratio = match (div(&clips.ours), div(&clips.theirs)) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    Ok(VersionMetrics {
        version: clips.version,
        ratings: ours.len() + seconds + if clips.keep_theirs { theirs.len() } else { 0 },
        mean_rating: mean(ours.iter().filter_map(|h| h.stars)),
        mean_utility: mean(ours.iter().filter_map(|h| h.utility)),
        win_rate: win_rate(pairs().map(|(a, b)| (a.stars, b.stars))),
        utility_win_rate: win_rate(pairs().map(|(a, b)| (a.utility, b.utility))),
        diversity_ratio,
        requests: ours
            .iter()
            .enumerate()
            .map(|(i, h)| RequestOutcome {
                stars: h.stars,
                utility: h.utility,
                twin_stars: theirs.get(i).and_then(|t| t.stars),
                twin_utility: theirs.get(i).and_then(|t| t.utility),
            })
            .collect(),
        finetune_s: None,
        pool: None,
        guard: None,
        no_version: None,
    })
}
