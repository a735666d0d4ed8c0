//! Preference pairs for the DPO objective ([`super::dpo`]): two clips of one request rated
//! differently by the same producer. A request's clips share their conditioning (songs,
//! weights, strength), so the only difference the rating can be about is the clip itself; a
//! blind baseline twin belongs to its request like any other clip, so "the fine-tuned clip
//! against its parent's" becomes a pair whenever the two ratings differ.
use super::dpo::Pair;
use super::FinetuneError;
use crate::select::{store_normaliser, RatingInput, Scored, SelectConfig};
use refrain_engine::feedback::{ClipId, FeedbackStore, Since, Uid};
use std::collections::{BTreeMap, HashMap};

/// One rated clip as pair building sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCandidate {
    /// The clip.
    pub clip: ClipId,
    /// The request it was made for (`None`: stored before requests were recorded; never paired).
    pub request: Option<Uid>,
    /// Who rated it.
    pub rater: String,
    /// When (the newest rating of a clip by one rater is the one that counts).
    pub rated_at_ms: i64,
    /// The rating after the per-rating rules (normalised score, confidence, spam flag).
    pub scored: Scored,
}

/// A pair of clips: the preferred one, the other, and ω_winner · ω_loser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipPair {
    /// The clip rated higher.
    pub winner: ClipId,
    /// The clip rated lower.
    pub loser: ClipId,
    /// The pair's weight.
    pub weight: f32,
}

/// The preference pairs among the ratings `since` selects, scored with the per-rating rules
/// (per-rater normalisation over the whole history, confidence, spam flag), with both clips'
/// latents. A clip whose latent is not `len` finite values (another model's) is left out.
pub fn pairs_from_store(
    store: &FeedbackStore,
    since: Since,
    cfg: &SelectConfig,
    len: usize,
) -> Result<Vec<Pair>, FinetuneError> {
    let norm = store_normaliser(store, cfg)?;
    let rated = store.ratings_with_clips(since)?;
    let mut latents: HashMap<ClipId, &[f32]> = HashMap::new();
    let mut candidates = Vec::with_capacity(rated.len());
    for rc in &rated {
        let latent = &rc.clip.latent;
        if latent.len() != len || latent.iter().any(|v| !v.is_finite()) {
            continue;
        }
        latents.insert(rc.clip.id, latent);
        candidates.push(PairCandidate {
            clip: rc.clip.id,
            request: rc.clip.request,
            rater: rc.rating.rater_id.clone(),
            rated_at_ms: rc.rating.rated_at_ms,
            scored: norm.score(&RatingInput::from(&rc.rating)),
        });
    }
    Ok(build_pairs(&candidates)
        .into_iter()
        .filter_map(|p| {
            Some(Pair {
                winner: latents.get(&p.winner)?.to_vec(),
                loser: latents.get(&p.loser)?.to_vec(),
                weight: p.weight,
            })
        })
        .collect())
}

/// Every pair within each (request, rater): flagged ratings and clips without a request never
/// form one, equal scores say nothing, and a clip rated twice by one rater counts once, with
/// its newest rating. Pairs come out sorted by (winner, loser), whatever the request uids.
pub fn build_pairs(candidates: &[PairCandidate]) -> Vec<ClipPair> {
    // (request, rater) → clip → newest candidate.
    let mut groups: BTreeMap<(Uid, &str), BTreeMap<ClipId, &PairCandidate>> = BTreeMap::new();
    for c in candidates {
        let Some(request) = c.request else { continue };
        let clips = groups.entry((request, c.rater.as_str())).or_default();
        match clips.get(&c.clip) {
            Some(seen) if seen.rated_at_ms > c.rated_at_ms => {}
            _ => {
                clips.insert(c.clip, c);
            }
        }
    }
    let mut pairs = Vec::new();
    for clips in groups.values() {
        // A clip whose newest rating is flagged drops out: its older ratings are superseded.
        let rated: Vec<&PairCandidate> = clips
            .values()
            .copied()
            .filter(|c| !c.scored.flagged)
            .collect();
        for (i, a) in rated.iter().enumerate() {
            for b in &rated[i + 1..] {
                let (ra, rb) = (a.scored.r, b.scored.r);
                if !(ra.is_finite() && rb.is_finite()) || ra == rb {
                    continue;
                }
                let (winner, loser) = if ra > rb { (a, b) } else { (b, a) };
                let weight = winner.scored.omega * loser.scored.omega;
                if weight > 0.0 && weight.is_finite() {
                    pairs.push(ClipPair {
                        winner: winner.clip,
                        loser: loser.clip,
                        weight,
                    });
                }
            }
        }
    }
    pairs.sort_by_key(|p| (p.winner, p.loser));
    pairs
}

/// Applies the confidence rule to pair weights: `Fixed` (the "no confidence" ablation) sets
/// every weight ω_w·ω_l to 1, `Weighted` keeps them.
pub fn apply_confidence(pairs: &mut [Pair], confidence: super::Confidence) {
    if confidence == super::Confidence::Fixed {
        pairs.iter_mut().for_each(|p| p.weight = 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(clip: i64, request: u128, rater: &str, r: f32, at: i64) -> PairCandidate {
        PairCandidate {
            clip: ClipId(clip),
            request: Some(Uid(request)),
            rater: rater.into(),
            rated_at_ms: at,
            scored: Scored {
                raw: r,
                r,
                listened: 1.0,
                omega: (r + 1.0) / 2.0,
                flagged: false,
                candidate: r >= 0.5,
            },
        }
    }

    #[test]
    fn pairs_clips_of_one_request_and_rater_by_score() {
        let mut flagged = candidate(4, 1, "p", 0.1, 0);
        flagged.scored.flagged = true;
        flagged.scored.omega = 0.0;
        let mut legacy = candidate(6, 0, "p", 0.0, 0);
        legacy.request = None;
        let pairs = build_pairs(&[
            candidate(1, 1, "p", 1.0, 0),
            candidate(2, 1, "p", 0.0, 0),
            candidate(3, 1, "p", 1.0, 0), // ties with clip 1: no pair between them
            flagged,
            candidate(5, 2, "p", 0.0, 0), // alone in its request
            legacy,
            candidate(7, 1, "q", 0.0, 0), // another rater of request 1: alone
        ]);
        assert_eq!(
            pairs,
            vec![
                ClipPair {
                    winner: ClipId(1),
                    loser: ClipId(2),
                    weight: 0.5
                },
                ClipPair {
                    winner: ClipId(3),
                    loser: ClipId(2),
                    weight: 0.5
                },
            ]
        );
    }

    #[test]
    fn the_newest_rating_of_a_clip_counts() {
        // Clip 1 first rejected, then re-rated 1.0; clip 2 at 0.5 loses to it.
        let pairs = build_pairs(&[
            candidate(1, 9, "p", 0.0, 10),
            candidate(2, 9, "p", 0.5, 15),
            candidate(1, 9, "p", 1.0, 20),
        ]);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].winner, pairs[0].loser), (ClipId(1), ClipId(2)));
        assert!((pairs[0].weight - 0.75).abs() < 1e-6);
    }

    #[test]
    fn fixed_confidence_sets_pair_weights_to_one() {
        let pair = |weight| Pair {
            winner: vec![0.0; 2],
            loser: vec![1.0; 2],
            weight,
        };
        let mut pairs = vec![pair(0.25), pair(0.81)];
        apply_confidence(&mut pairs, crate::finetune::Confidence::Weighted);
        assert_eq!((pairs[0].weight, pairs[1].weight), (0.25, 0.81));
        apply_confidence(&mut pairs, crate::finetune::Confidence::Fixed);
        assert_eq!((pairs[0].weight, pairs[1].weight), (1.0, 1.0));
    }
}
