//! SLERP and the weighted merge: exact end points, norm preservation, and each song's weight.
use proptest::prelude::*;
use refrain_engine::latent::{cosine_similarity, merge, slerp, LatentError};

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|x| x / n).collect()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn vec_strategy(len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1.0f32..1.0, len)
        .prop_filter("non-zero", |v| v.iter().any(|x| x.abs() > 0.05))
}

proptest! {
    #[test]
    fn slerp_hits_its_end_points(a in vec_strategy(16), b in vec_strategy(16)) {
        prop_assert!(close(&slerp(&a, &b, 0.0).unwrap(), &a, 1e-5));
        prop_assert!(close(&slerp(&a, &b, 1.0).unwrap(), &b, 1e-5));
    }

    #[test]
    fn slerp_of_unit_vectors_stays_on_the_sphere(a in vec_strategy(16), b in vec_strategy(16), t in 0.0f32..1.0) {
        let (a, b) = (unit(a), unit(b));
        prop_assume!(cosine_similarity(&a, &b) > -0.99);
        let m = slerp(&a, &b, t).unwrap();
        let n = m.iter().map(|x| x * x).sum::<f32>().sqrt();
        prop_assert!((n - 1.0).abs() < 1e-3, "norm {n}");
    }

    #[test]
    fn slerp_moves_a_fraction_t_of_the_angle(a in vec_strategy(16), b in vec_strategy(16), t in 0.0f32..1.0) {
        let (a, b) = (unit(a), unit(b));
        let cos_ab = cosine_similarity(&a, &b);
        prop_assume!(cos_ab.abs() < 0.99);
        let total = cos_ab.acos();
        let m = slerp(&a, &b, t).unwrap();
        let moved = cosine_similarity(&a, &m).clamp(-1.0, 1.0).acos();
        prop_assert!((moved - t * total).abs() < 2e-3, "moved {moved}, expected {}", t * total);
    }

    #[test]
    fn two_way_merge_is_order_free(a in vec_strategy(12), b in vec_strategy(12), wa in 0.1f32..5.0, wb in 0.1f32..5.0) {
        let ab = merge(&[&a, &b], Some(&[wa, wb])).unwrap();
        let ba = merge(&[&b, &a], Some(&[wb, wa])).unwrap();
        prop_assert!(close(&ab, &ba, 1e-4));
    }

    #[test]
    fn merge_in_the_linear_regime_is_the_weighted_mean(base in vec_strategy(8), w in prop::collection::vec(0.1f32..4.0, 2..5)) {
        // Tiny perturbations of one vector are all nearly parallel, so SLERP is exactly lerp.
        let latents: Vec<Vec<f32>> = (0..w.len())
            .map(|i| base.iter().enumerate().map(|(k, x)| x + 1e-4 * ((i * 7 + k) % 5) as f32).collect())
            .collect();
        let refs: Vec<&[f32]> = latents.iter().map(|v| v.as_slice()).collect();
        let merged = merge(&refs, Some(&w)).unwrap();
        let total: f32 = w.iter().sum();
        let mean: Vec<f32> = (0..base.len())
            .map(|k| latents.iter().zip(&w).map(|(l, wi)| l[k] * wi).sum::<f32>() / total)
            .collect();
        prop_assert!(close(&merged, &mean, 1e-5));
    }
}

#[test]
fn parallel_and_antiparallel_fall_back_to_lerp() {
    let a = vec![1.0, 2.0, 3.0];
    let b = vec![2.0, 4.0, 6.0];
    assert!(close(&slerp(&a, &b, 0.5).unwrap(), &[1.5, 3.0, 4.5], 1e-6));
    let c = vec![-1.0, -2.0, -3.0];
    assert!(slerp(&a, &c, 0.5).unwrap().iter().all(|x| x.abs() < 1e-6));
}

#[test]
fn equal_weight_merge_gives_each_song_its_arc() {
    // Orthonormal songs: the second merge step must move 1/3 of the way (α₃ = 1 / 3).
    let e = |i: usize| {
        (0..3)
            .map(|k| if k == i { 1.0 } else { 0.0 })
            .collect::<Vec<f32>>()
    };
    let (e0, e1, e2) = (e(0), e(1), e(2));
    let merged = merge(&[&e0, &e1, &e2], None).unwrap();
    let angle_to_e2 = cosine_similarity(&merged, &e2).acos();
    let expected = std::f32::consts::FRAC_PI_2 * (2.0 / 3.0);
    assert!(
        (angle_to_e2 - expected).abs() < 1e-4,
        "{angle_to_e2} vs {expected}"
    );
    assert!((cosine_similarity(&merged, &e0) - cosine_similarity(&merged, &e1)).abs() < 1e-6);
}

#[test]
fn zero_weight_songs_do_not_count() {
    let (a, b) = (vec![1.0, 0.0], vec![0.0, 1.0]);
    assert_eq!(merge(&[&a, &b], Some(&[0.0, 2.0])).unwrap(), b);
    assert_eq!(merge(&[&a, &b], Some(&[1.0, 0.0])).unwrap(), a);
}

#[test]
fn bad_input_is_refused() {
    let (a, b) = (vec![1.0, 0.0], vec![0.0, 1.0, 0.0]);
    assert_eq!(merge(&[], None), Err(LatentError::Empty));
    assert!(matches!(
        merge(&[&a, &b], None),
        Err(LatentError::Shape { index: 1, .. })
    ));
    assert!(matches!(
        merge(&[&a, &a], Some(&[1.0])),
        Err(LatentError::Weights(_))
    ));
    assert!(matches!(
        merge(&[&a, &a], Some(&[-1.0, 1.0])),
        Err(LatentError::Weights(_))
    ));
    assert!(matches!(
        merge(&[&a, &a], Some(&[0.0, 0.0])),
        Err(LatentError::Weights(_))
    ));
    let nan = vec![f32::NAN, 0.0];
    assert_eq!(merge(&[&a, &nan], None), Err(LatentError::NotFinite(1)));
    assert_eq!(slerp(&a, &a, 1.5), Err(LatentError::Parameter(1.5)));
}
