//! Source detail: what the autoencoder smears away from a song (its mel minus the decoder's
//! reconstruction: onsets, note edges, fine texture), added back to variations in proportion to
//! how much of the song survives the chosen strength.
//!
//! Image-to-image noises the song's latent to `x_t = √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε`, so √ᾱ_t of the
//! start step is the song's share of the starting point: at strength 0.3 (t = 240 of 1000 on the
//! base) that is 0.74 and the variation still follows the song's timing; at 0.7 it is 0.12 and
//! little of the song's timing is left, so little of its detail is added. On the base model's
//! held-out windows (`refrain-trainer evaluate`) this raised variations' frame-to-frame change at
//! strength 0.3 from 0.025 to 0.055 (the songs': 0.069) and their onset correlation with the song
//! from 0.54 to 0.90.
use crate::ddim::{Ddim, DdimError, NoiseSchedule};
use crate::spectrogram::Mel;

/// What the plugin and `refrain vary` use unless told otherwise.
pub const DEFAULT_DETAIL: f64 = 1.0;

/// The model-range bounds of a mel value.
const MEL_RANGE: (f32, f32) = (-1.0, 1.0);

/// The song's mel minus its autoencoder reconstruction.
pub fn residual(song: &Mel, reconstruction: &Mel) -> Vec<f32> {
    song.data
        .iter()
        .zip(&reconstruction.data)
        .map(|(s, r)| s - r)
        .collect()
}

/// The songs' residuals averaged with their merge weights; `None` when there is nothing to
/// blend (no songs, or weights that sum to zero).
pub fn blend(residuals: &[Vec<f32>], weights: &[f32]) -> Option<Vec<f32>> {
    let total: f32 = weights.iter().sum();
    let len = residuals.first()?.len();
    if total <= 0.0 || residuals.iter().any(|r| r.len() != len) {
        return None;
    }
    let mut out = vec![0.0f32; len];
    for (r, w) in residuals.iter().zip(weights) {
        let share = w / total;
        out.iter_mut().zip(r).for_each(|(o, v)| *o += share * v);
    }
    Some(out)
}

/// How much residual a variation gets: `detail · √ᾱ` of the step image-to-image starts from, or
/// `detail` itself when `steps · strength < 1` leaves the song's latent untouched.
pub fn gain(
    schedule: &NoiseSchedule,
    steps: usize,
    strength: f64,
    detail: f64,
) -> Result<f32, DdimError> {
    let ddim = Ddim::new(schedule, steps)?;
    let kept = match ddim.img2img_timesteps(strength)?.first() {
        Some(&t) => schedule.alpha_cumprod(t)?.sqrt(),
        None => 1.0,
    };
    Ok((detail * kept) as f32)
}

/// `variation` with one song's detail added back: what the pipeline plays for a single song,
/// for tools that hold the song's mel and its round trip themselves.
pub fn with_song_detail(variation: &Mel, song: &Mel, round_trip: &Mel, gain: f32) -> Mel {
    let mut out = variation.clone();
    apply(&mut out, &residual(song, round_trip), gain);
    out
}

/// Adds `gain · residual` to a decoded mel, kept inside the model's range.
pub fn apply(mel: &mut Mel, residual: &[f32], gain: f32) {
    for (m, r) in mel.data.iter_mut().zip(residual) {
        *m = (*m + gain * r).clamp(MEL_RANGE.0, MEL_RANGE.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ScheduleConfig;

    fn mel(data: Vec<f32>) -> Mel {
        Mel {
            n_mels: 1,
            frames: data.len(),
            data,
        }
    }

    #[test]
    fn residual_then_full_gain_restores_the_song_within_range() {
        let song = mel(vec![0.5, -0.2, 1.0, -1.0]);
        let recon = mel(vec![0.1, 0.1, 0.4, -0.3]);
        let out = with_song_detail(&recon, &song, &recon, 1.0);
        for (a, b) in out.data.iter().zip(&song.data) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let mut loud = mel(vec![0.9; 4]);
        apply(&mut loud, &[1.0; 4], 1.0);
        assert!(loud.data.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn blend_weights_by_merge_share_and_refuses_what_cannot_blend() {
        let r = blend(&[vec![1.0, 0.0], vec![0.0, 4.0]], &[3.0, 1.0]).unwrap();
        assert_eq!(r, vec![0.75, 1.0]);
        assert!(blend(&[], &[]).is_none());
        assert!(blend(&[vec![1.0]], &[0.0]).is_none());
        assert!(blend(&[vec![1.0], vec![1.0, 2.0]], &[1.0, 1.0]).is_none());
    }

    #[test]
    fn gain_follows_the_songs_share_of_the_start_step() {
        let s = NoiseSchedule::from_config(&ScheduleConfig::default()).unwrap();
        let low = gain(&s, 25, 0.3, 1.0).unwrap();
        let mid = gain(&s, 25, 0.5, 1.0).unwrap();
        let high = gain(&s, 25, 0.9, 1.0).unwrap();
        assert!(1.0 > low && low > mid && mid > high && high > 0.0);
        // int(25 · 0.5) = 12 steps from t = 440: √ᾱ of that step.
        let want = s.alpha_cumprod(440).unwrap().sqrt() as f32;
        assert!((mid - want).abs() < 1e-6, "{mid} vs {want}");
        assert_eq!(gain(&s, 25, 0.5, 0.0).unwrap(), 0.0);
        assert_eq!(
            gain(&s, 10, 0.01, 0.7).unwrap(),
            0.7,
            "no denoising: all of it"
        );
    }
}
