//! Spearman's rank correlation, the statistic the sentence-pair evaluation reports.

/// Spearman's rank correlation of `xs` and `ys` (equal lengths): the Pearson
/// correlation of their ranks, ties given the mean of the ranks they span.
/// When either side has no spread (every value tied) there is no ordering to
/// agree with, and the correlation is 0.
pub fn spearman(xs: &[f64], ys: &[f64]) -> f64 {
    assert_eq!(xs.len(), ys.len(), "spearman needs paired values");
    pearson(&ranks(xs), &ranks(ys))
}

/// 1-based ranks, ties averaged; NaN sorts last so that it never ranks as similar.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold equal values: each gets the mean of ranks start+1..=end.
        let mean = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_order_is_one_and_reversed_is_minus_one() {
        let xs = [0.1, 0.5, 0.3, 0.9];
        let ys = [1.0, 3.0, 2.0, 4.0];
        assert!((spearman(&xs, &ys) - 1.0).abs() < 1e-12);
        let reversed: Vec<f64> = ys.iter().map(|y| -y).collect();
        assert!((spearman(&xs, &reversed) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn ties_take_the_mean_rank() {
        assert_eq!(ranks(&[2.0, 1.0, 2.0, 3.0]), vec![2.5, 1.0, 2.5, 4.0]);
    }

    #[test]
    fn worked_example_with_tied_labels() {
        // Ranks of xs: 1, 3, 2, 4; of ys (ties): 1.5, 1.5, 3.5, 3.5.
        // Pearson of those ranks, by hand: 2 / sqrt(5 * 4) = 0.44721.
        let rho = spearman(&[0.1, 0.7, 0.4, 0.9], &[0.0, 0.0, 1.0, 1.0]);
        assert!((rho - 2.0 / 20f64.sqrt()).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn no_spread_means_no_correlation() {
        assert_eq!(spearman(&[0.5, 0.5, 0.5], &[0.0, 1.0, 2.0]), 0.0);
    }
}
