//! Per-rating rules of docs/ARCHITECTURE.md §4.4: listening fraction, rating, per-rater normalisation,
//! confidence, spam flag, and which ratings are training candidates.

use std::collections::HashMap;

use super::SelectConfig;

/// One rating as the rules see it: the fields of a stored rating that the rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingInput {
    /// Who rated (normalisation groups by this).
    pub rater_id: String,
    /// Accept (true) or Reject (false).
    pub accepted: bool,
    /// 1–5 stars, or none.
    pub stars: Option<u8>,
    /// How long the producer listened.
    pub listen_ms: u64,
    /// The clip's length.
    pub clip_ms: u64,
}

impl RatingInput {
    /// `r` before normalisation: see [`raw_rating`].
    pub fn raw(&self) -> f32 {
        raw_rating(self.accepted, self.stars)
    }

    /// `l`: see [`listening_fraction`].
    pub fn listened(&self) -> f32 {
        listening_fraction(self.listen_ms, self.clip_ms)
    }

    /// Whether the spam check flags this rating: see [`is_spam`].
    pub fn is_flagged(&self, cfg: &SelectConfig) -> bool {
        is_spam(self.raw(), self.listened(), cfg.spam_listen_threshold)
    }
}

impl From<&refrain_engine::feedback::Rating> for RatingInput {
    fn from(r: &refrain_engine::feedback::Rating) -> Self {
        Self {
            rater_id: r.rater_id.clone(),
            accepted: r.accepted,
            stars: r.stars,
            listen_ms: r.listen_ms,
            clip_ms: r.clip_ms,
        }
    }
}

/// Listening fraction `l = min(listen_ms / clip_ms, 1)`.
///
/// A zero-length clip (the store refuses those) gives 0: no evidence that anything was heard.
pub fn listening_fraction(listen_ms: u64, clip_ms: u64) -> f32 {
    if clip_ms == 0 {
        return 0.0;
    }
    (listen_ms as f64 / clip_ms as f64).min(1.0) as f32
}

/// Rating `r` before normalisation: `(stars − 1) / 4` when stars are given, else 1 for Accept
/// and 0 for Reject. Stars outside 1–5 (the store refuses those) are clamped into range.
pub fn raw_rating(accepted: bool, stars: Option<u8>) -> f32 {
    match stars {
        Some(s) => f32::from(s.clamp(1, 5) - 1) / 4.0,
        None => f32::from(u8::from(accepted)),
    }
}

/// The spam check: a rating at the top of the scale (`r = 1` before normalisation: 5 stars, or
/// Accept without stars) heard for less than `threshold` of the clip.
pub fn is_spam(raw: f32, listened: f32, threshold: f32) -> bool {
    raw >= 1.0 && listened < threshold
}

/// Confidence `ω = (r + l) / 2`, the clip's loss weight.
///
/// Clamped to [0, 1] so float rounding in a normalised `r` can never give a weight outside it.
pub fn confidence(r: f32, listened: f32) -> f32 {
    ((r + listened) / 2.0).clamp(0.0, 1.0)
}

/// Whether the producer accepted the clip: "Accept, or 4–5 stars".
///
/// The Accept/Reject choice is the producer's explicit verdict, so a Reject is never an
/// acceptance whatever the stars say; when stars are given they must also be 4 or 5 (an Accept
/// with 1–3 stars says "usable, but below what I want", which is not a target to train toward).
pub fn is_accept(accepted: bool, stars: Option<u8>) -> bool {
    accepted && stars.is_none_or(|s| s >= 4)
}

/// A rater's range of counted raw ratings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaterRange {
    /// Lowest raw rating.
    pub min: f32,
    /// Highest raw rating.
    pub max: f32,
    /// How many counted (unflagged) ratings.
    pub count: usize,
}

/// Per-rater min–max normalisation, built once from the raters' whole history.
///
/// Flagged (spam) ratings are left out of the ranges: a flagged rating never counts, so it must
/// not rescale the rater's honest ratings either.
///
/// A rater whose counted ratings are all equal (`max = min`) has no range to rescale by; their
/// ratings are kept as they are (raw), because mapping a constant rater to 0 or 0.5 would invent
/// an opinion, while their raw value is the one they actually gave.
#[derive(Debug, Clone)]
pub struct Normaliser {
    ranges: HashMap<String, RaterRange>,
    min_ratings: usize,
    spam_threshold: f32,
}

impl Normaliser {
    /// Collects each rater's range from `history` (flagged ratings skipped).
    pub fn from_history<'a>(
        history: impl IntoIterator<Item = &'a RatingInput>,
        cfg: &SelectConfig,
    ) -> Self {
        let mut ranges: HashMap<String, RaterRange> = HashMap::new();
        for rating in history {
            if rating.is_flagged(cfg) {
                continue;
            }
            let raw = rating.raw();
            ranges
                .entry(rating.rater_id.clone())
                .and_modify(|r| {
                    r.min = r.min.min(raw);
                    r.max = r.max.max(raw);
                    r.count += 1;
                })
                .or_insert(RaterRange {
                    min: raw,
                    max: raw,
                    count: 1,
                });
        }
        Self {
            ranges,
            min_ratings: cfg.min_ratings_to_normalise,
            spam_threshold: cfg.spam_listen_threshold,
        }
    }

    /// The counted range of `rater`, if they rated at all.
    pub fn range(&self, rater: &str) -> Option<RaterRange> {
        self.ranges.get(rater).copied()
    }

    /// `raw` normalised for `rater`: `(raw − min) / (max − min)` once the rater has enough
    /// counted ratings and a non-empty range, else `raw` unchanged. Clamped to [0, 1] so a
    /// rating outside the history's range (possible only if it was not part of it) stays on
    /// the scale; clamping is monotone, so order is kept.
    pub fn normalise(&self, rater: &str, raw: f32) -> f32 {
        match self.ranges.get(rater) {
            Some(r) if r.count >= self.min_ratings && r.max > r.min => {
                ((raw - r.min) / (r.max - r.min)).clamp(0.0, 1.0)
            }
            _ => raw,
        }
    }

    /// Applies every per-rating rule to `rating`.
    pub fn score(&self, rating: &RatingInput) -> Scored {
        let raw = rating.raw();
        let listened = rating.listened();
        let flagged = is_spam(raw, listened, self.spam_threshold);
        if flagged {
            // Kept for the record (the store keeps the rating), but it never counts.
            return Scored {
                raw,
                r: raw,
                listened,
                omega: 0.0,
                flagged,
                candidate: false,
            };
        }
        let r = self.normalise(&rating.rater_id, raw);
        Scored {
            raw,
            r,
            listened,
            omega: confidence(r, listened),
            flagged,
            candidate: is_accept(rating.accepted, rating.stars),
        }
    }

    /// Normalises over `ratings` themselves and scores each of them, in order.
    pub fn score_all(ratings: &[RatingInput], cfg: &SelectConfig) -> Vec<Scored> {
        let norm = Self::from_history(ratings, cfg);
        ratings.iter().map(|r| norm.score(r)).collect()
    }
}

/// The outcome of the per-rating rules for one rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// `r` before normalisation.
    pub raw: f32,
    /// `r` after per-rater normalisation: the score genetic selection compares.
    pub r: f32,
    /// Listening fraction `l`.
    pub listened: f32,
    /// Confidence `ω` (0 when flagged).
    pub omega: f32,
    /// Flagged as spam: never counts.
    pub flagged: bool,
    /// Accepted and unflagged: may enter the pool.
    pub candidate: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(rater: &str, accepted: bool, stars: Option<u8>, listen: u64) -> RatingInput {
        RatingInput {
            rater_id: rater.into(),
            accepted,
            stars,
            listen_ms: listen,
            clip_ms: 6000,
        }
    }

    #[test]
    fn listening_fraction_is_capped_at_one() {
        assert_eq!(listening_fraction(1500, 6000), 0.25);
        assert_eq!(listening_fraction(9000, 6000), 1.0);
        assert_eq!(listening_fraction(0, 6000), 0.0);
        assert_eq!(listening_fraction(10, 0), 0.0);
    }

    #[test]
    fn raw_rating_from_stars_or_verdict() {
        assert_eq!(raw_rating(true, Some(1)), 0.0);
        assert_eq!(raw_rating(true, Some(3)), 0.5);
        assert_eq!(raw_rating(false, Some(4)), 0.75);
        assert_eq!(raw_rating(true, Some(5)), 1.0);
        assert_eq!(raw_rating(true, None), 1.0);
        assert_eq!(raw_rating(false, None), 0.0);
    }

    #[test]
    fn confidence_is_the_average() {
        // 4 stars (r = 0.75), heard 3 of 6 s (l = 0.5): ω = 0.625.
        let s = Normaliser::score_all(&[rating("a", true, Some(4), 3000)], &Default::default());
        assert_eq!(s[0].omega, 0.625);
        assert!(s[0].candidate);
    }

    #[test]
    fn top_rating_heard_briefly_is_spam() {
        let cfg = SelectConfig::default();
        // 5 stars after 1.4 s of 6 s (l ≈ 0.233 < 0.25): flagged, ω = 0, no candidate.
        let s = Normaliser::score_all(&[rating("a", true, Some(5), 1400)], &cfg);
        assert!(s[0].flagged && !s[0].candidate);
        assert_eq!(s[0].omega, 0.0);
        // Exactly a quarter is not below the threshold.
        assert!(!rating("a", true, Some(5), 1500).is_flagged(&cfg));
        // Accept without stars is the top of the scale too.
        assert!(rating("a", true, None, 100).is_flagged(&cfg));
        // 4 stars heard briefly is not the top of the scale.
        assert!(!rating("a", true, Some(4), 100).is_flagged(&cfg));
    }

    #[test]
    fn candidates_are_accepted_clips_only() {
        assert!(is_accept(true, None));
        assert!(is_accept(true, Some(4)));
        assert!(is_accept(true, Some(5)));
        assert!(!is_accept(true, Some(3)));
        assert!(!is_accept(false, None));
        assert!(!is_accept(false, Some(5)));
    }

    #[test]
    fn normalises_once_a_rater_has_five_ratings() {
        let cfg = SelectConfig::default();
        // Stars 2, 3, 3, 4 (raw 0.25..0.75): only four ratings, so raw values are kept.
        let mut rs: Vec<_> = [2, 3, 3, 4]
            .into_iter()
            .map(|s| rating("a", true, Some(s), 6000))
            .collect();
        let s = Normaliser::score_all(&rs, &cfg);
        assert_eq!(s[0].r, 0.25);
        assert_eq!(s[3].r, 0.75);
        // A fifth (3 stars): range 0.25..0.75, so 2★ → 0, 3★ → 0.5, 4★ → 1.
        rs.push(rating("a", true, Some(3), 6000));
        let s = Normaliser::score_all(&rs, &cfg);
        let r: Vec<f32> = s.iter().map(|s| s.r).collect();
        assert_eq!(r, [0.0, 0.5, 0.5, 1.0, 0.5]);
        // ω uses the normalised r: 4★ fully heard → (1 + 1) / 2.
        assert_eq!(s[3].omega, 1.0);
    }

    #[test]
    fn constant_rater_keeps_raw_ratings() {
        let cfg = SelectConfig::default();
        let rs: Vec<_> = (0..6).map(|_| rating("a", true, Some(4), 6000)).collect();
        let s = Normaliser::score_all(&rs, &cfg);
        assert!(s.iter().all(|s| s.r == 0.75));
    }

    #[test]
    fn spam_ratings_do_not_shape_the_range() {
        let cfg = SelectConfig::default();
        // Five honest 2–4★ ratings plus a flagged 5★: the range stays 0.25..0.75.
        let mut rs: Vec<_> = [2, 3, 4, 3, 3]
            .into_iter()
            .map(|s| rating("a", true, Some(s), 6000))
            .collect();
        rs.push(rating("a", true, Some(5), 200));
        let norm = Normaliser::from_history(&rs, &cfg);
        assert_eq!(
            norm.range("a"),
            Some(RaterRange {
                min: 0.25,
                max: 0.75,
                count: 5
            })
        );
        assert_eq!(norm.normalise("a", 0.75), 1.0);
        // Another rater's scale is independent, and an unknown rater is left raw.
        assert_eq!(norm.normalise("b", 0.75), 0.75);
    }
}
