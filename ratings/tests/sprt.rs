//! The generalized SPRT: LLR values checked by an independent brute-force maximization of the
//! constrained likelihood, the bounds, the decision, and the spec parser.

use ratings::Error;
use ratings::logistic::expected_score;
use ratings::paired::{Pentanomial, Trinomial};
use ratings::sprt::{Config, Decision, llr};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The maximum of a concave `f` on `(lo, hi)` by golden-section search.
fn golden_max(f: &dyn Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - ratio * (hi - lo), lo + ratio * (hi - lo));
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..90 {
        if fa < fb {
            lo = a;
            (a, fa) = (b, fb);
            b = lo + ratio * (hi - lo);
            fb = f(b);
        } else {
            hi = b;
            (b, fb) = (a, fa);
            a = hi - ratio * (hi - lo);
            fa = f(a);
        }
    }
    fa.max(fb)
}

fn log(p: f64) -> f64 {
    if p > 0.0 { p.ln() } else { f64::NEG_INFINITY }
}

/// max of W ln w + D ln d + L ln l over (w, d, l) with mean score w + d/2 = s: one free variable.
fn trinomial_max(w: f64, d: f64, l: f64, s: f64) -> f64 {
    let objective = |pd: f64| {
        let pw = s - pd / 2.0;
        let pl = 1.0 - pw - pd;
        w * log(pw) + d * log(pd) + l * log(pl)
    };
    golden_max(&objective, 0.0, 2.0 * s.min(1.0 - s))
}

/// max of Σ n_k ln p_k over five outcomes scoring 0, ¼, ½, ¾, 1 with mean s: nested 1-D searches
/// over p1, p2, p3 (p0 and p4 then follow from the two constraints).
fn pentanomial_max(n: [f64; 5], s: f64) -> f64 {
    let inner = |p1: f64, p2: f64| {
        let top = ((s - 0.25 * p1 - 0.5 * p2) / 0.75).min((1.0 - s - 0.75 * p1 - 0.5 * p2) / 0.25);
        let objective = |p3: f64| {
            let p4 = s - 0.25 * p1 - 0.5 * p2 - 0.75 * p3;
            let p0 = 1.0 - p1 - p2 - p3 - p4;
            n[0] * log(p0) + n[1] * log(p1) + n[2] * log(p2) + n[3] * log(p3) + n[4] * log(p4)
        };
        golden_max(&objective, 0.0, top.max(0.0))
    };
    let middle = |p1: f64| {
        let top = ((s - 0.25 * p1) / 0.5).min((1.0 - s - 0.75 * p1) / 0.5);
        golden_max(&|p2| inner(p1, p2), 0.0, top.max(0.0))
    };
    golden_max(&middle, 0.0, (s / 0.25).min((1.0 - s) / 0.75))
}

#[test]
fn trinomial_llr_equals_brute_force_constrained_likelihood_ratio() -> TestResult {
    let config = Config::new(0.0, 10.0, 0.05, 0.05)?;
    for (w, d, l) in [(120u64, 200u64, 100u64), (31, 40, 29), (400, 300, 420), (3, 1, 1)] {
        let (s0, s1) = (expected_score(0.0), expected_score(10.0));
        let (wf, df, lf) = (w as f64, d as f64, l as f64);
        let want = trinomial_max(wf, df, lf, s1) - trinomial_max(wf, df, lf, s0);
        let got = config.llr_trinomial(&Trinomial::new(w, d, l));
        assert!((got - want).abs() < 1e-8, "{w}/{d}/{l}: {got} vs brute force {want}");
    }
    Ok(())
}

#[test]
fn pentanomial_llr_equals_brute_force_constrained_likelihood_ratio() -> TestResult {
    let config = Config::new(-5.0, 5.0, 0.05, 0.05)?;
    for counts in [[10u64, 60, 120, 70, 12], [3, 20, 51, 18, 2], [40, 10, 5, 10, 45]] {
        let n = counts.map(|c| c as f64);
        let want = pentanomial_max(n, expected_score(5.0)) - pentanomial_max(n, expected_score(-5.0));
        let got = config.llr_pentanomial(&Pentanomial::new(counts));
        assert!((got - want).abs() < 1e-7, "{counts:?}: {got} vs brute force {want}");
    }
    Ok(())
}

#[test]
fn llr_of_one_win_one_draw_one_loss_at_zero_elo_is_zero_for_the_empirical_mean() {
    // The empirical mean is 0.5 = E(0 Elo): H at 0 Elo fits the data exactly, so the LLR of
    // H1 = 0 Elo against itself is 0, and against any other hypothesis it favours 0.
    let counts = [1.0, 1.0, 1.0];
    let scores = [0.0, 0.5, 1.0];
    assert_eq!(llr(&counts, &scores, 0.0, 0.0), 0.0);
    assert!(llr(&counts, &scores, 50.0, 0.0) > 0.0);
    assert!(llr(&counts, &scores, 0.0, 50.0) < 0.0);
}

#[test]
fn bounds_are_log_error_ratios() -> TestResult {
    let (lower, upper) = Config::new(0.0, 10.0, 0.05, 0.05)?.bounds();
    assert!((lower + 2.944_438_979_166_440_3).abs() < 1e-12);
    assert!((upper - 2.944_438_979_166_440_3).abs() < 1e-12);
    let (lower, upper) = Config::new(0.0, 5.0, 0.05, 0.1)?.bounds();
    assert!((lower - (0.1f64 / 0.95).ln()).abs() < 1e-15);
    assert!((upper - (0.9f64 / 0.05).ln()).abs() < 1e-15);
    Ok(())
}

#[test]
fn decision_compares_the_llr_with_the_bounds() -> TestResult {
    let config = Config::new(0.0, 10.0, 0.05, 0.05)?;
    assert_eq!(config.decision(3.0), Decision::AcceptH1);
    assert_eq!(config.decision(-3.0), Decision::AcceptH0);
    assert_eq!(config.decision(0.0), Decision::Continue);
    Ok(())
}

#[test]
fn sprt_run_game_by_game_accepts_h1_for_a_much_stronger_player() -> TestResult {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(17);
    let config = Config::parse("elo0=0,elo1=10,alpha=0.05,beta=0.05")?;
    let p = expected_score(100.0);
    let mut counts = Trinomial::default();
    let mut decision = Decision::Continue;
    while decision == Decision::Continue && counts.games() < 100_000 {
        let u: f64 = rng.random();
        counts.add(if u < p - 0.15 {
            ratings::game::Outcome::Win
        } else if u < p + 0.15 {
            ratings::game::Outcome::Draw
        } else {
            ratings::game::Outcome::Loss
        });
        decision = config.decision(config.llr_trinomial(&counts));
    }
    assert_eq!(decision, Decision::AcceptH1, "after {} games", counts.games());
    Ok(())
}

#[test]
fn zero_counts_are_regularized_so_the_llr_exists_from_the_first_game() -> TestResult {
    let config = Config::new(0.0, 10.0, 0.05, 0.05)?;
    assert_eq!(config.llr_trinomial(&Trinomial::default()), 0.0);
    let one_win = config.llr_trinomial(&Trinomial::new(1, 0, 0));
    assert!(one_win.is_finite() && one_win > 0.0);
    // Regularized: the same as counts 1.5, 0.5, 0.5.
    let want = llr(&[0.5, 0.5, 1.5], &[0.0, 0.5, 1.0], 0.0, 10.0);
    assert!((one_win - want).abs() < 1e-12);
    let pairs = config.llr_pentanomial(&Pentanomial::new([0, 0, 1, 0, 0]));
    assert!(pairs.is_finite());
    Ok(())
}

#[test]
fn spec_parses_in_any_order_with_spaces() -> TestResult {
    let config: Config = " beta=0.1 , alpha=0.05,elo1=5, elo0=-1.5".parse()?;
    assert_eq!(config, Config { elo0: -1.5, elo1: 5.0, alpha: 0.05, beta: 0.1 });
    Ok(())
}

#[test]
fn bad_specs_get_errors_saying_what_is_wrong() {
    for (spec, problem) in [
        ("", "empty item"),
        ("elo0=0,elo1=10,alpha=0.05", "missing beta"),
        ("elo0=0,elo1=10,alpha=0.05,beta=0.05,gamma=1", "unknown key 'gamma'"),
        ("elo0=0,elo0=1,elo1=10,alpha=0.05,beta=0.05", "'elo0' is given twice"),
        ("elo0=zero,elo1=10,alpha=0.05,beta=0.05", "'zero' is not a finite number"),
        ("elo0=10,elo1=0,alpha=0.05,beta=0.05", "must be less than elo1"),
        ("elo0=0,elo1=10,alpha=1.5,beta=0.05", "alpha (1.5) must be between 0 and 1"),
        ("elo0=0,elo1=10,alpha=0.5,beta=0.5", "alpha + beta"),
        ("elo0 0,elo1=10,alpha=0.05,beta=0.05", "is not key=value"),
        ("elo0=inf,elo1=10,alpha=0.05,beta=0.05", "not a finite number"),
    ] {
        match Config::parse(spec) {
            Err(Error::SprtSpec { spec: named, problem: got }) => {
                assert_eq!(named, spec);
                assert!(got.contains(problem), "{spec:?}: {got:?} lacks {problem:?}");
            }
            other => panic!("{spec:?}: expected an SprtSpec error, got {other:?}"),
        }
    }
}
