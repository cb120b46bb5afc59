//! The rules of measures: the status workflow and the priority score.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a measure stands in its workflow.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MeasureStatus {
    /// Collected idea.
    Idea,
    /// Assessed by benefit, cost and effort.
    Assessed,
    /// Project description (Projektsteckbrief) written.
    Planned,
    /// Approved by the councils.
    Approved,
    /// Being carried out.
    InProgress,
    /// Done.
    Completed,
    /// Paused; can go back to where it was.
    OnHold,
    /// Not pursued; can go back to where it was.
    Rejected,
}

/// Every status, in workflow order.
pub const ALL_STATUSES: [MeasureStatus; 8] = [
    MeasureStatus::Idea,
    MeasureStatus::Assessed,
    MeasureStatus::Planned,
    MeasureStatus::Approved,
    MeasureStatus::InProgress,
    MeasureStatus::Completed,
    MeasureStatus::OnHold,
    MeasureStatus::Rejected,
];

impl MeasureStatus {
    /// The stored and transmitted name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Open states: the steps from idea to in progress.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Idea | Self::Assessed | Self::Planned | Self::Approved | Self::InProgress)
    }

    fn next(self) -> Option<Self> {
        match self {
            Self::Idea => Some(Self::Assessed),
            Self::Assessed => Some(Self::Planned),
            Self::Planned => Some(Self::Approved),
            Self::Approved => Some(Self::InProgress),
            Self::InProgress => Some(Self::Completed),
            _ => None,
        }
    }

    /// The statuses a measure may move to from here. `resume` is where an on-hold or rejected
    /// measure came from (it may go back there and nowhere else).
    pub fn allowed_next(self, resume: Option<Self>) -> Vec<Self> {
        if self.is_open() {
            let mut allowed: Vec<Self> = self.next().into_iter().collect();
            allowed.extend([Self::OnHold, Self::Rejected]);
            return allowed;
        }
        match self {
            Self::OnHold | Self::Rejected => resume.filter(|r| r.is_open()).into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// How soon a measure can be carried out.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Horizon {
    /// Within a year, e.g. a joint purchase of consumables.
    Short,
    /// One to three years.
    Medium,
    /// Longer, e.g. implementing an e-government law together.
    Long,
}

/// The priority score: `(2·benefit − cost − effort + 8) × 100 / 16`, rounded down, from 0 to 100;
/// higher benefit and lower cost and effort rank first. `None` until all three are assessed.
pub fn priority_score(benefit: Option<i32>, cost: Option<i32>, effort: Option<i32>) -> Option<i32> {
    let (b, c, e) = (benefit?, cost?, effort?);
    Some((2 * b - c - e + 8) * 100 / 16)
}

/// One sub-measure as the progress of the measure above it counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub status: MeasureStatus,
    pub progress: i32,
    pub estimated_cost_eur: Option<i64>,
}

/// The progress a measure derives from its sub-measures: rejected ones left out, completed ones
/// count 100, weighted by `estimated_cost_eur` when every counted one has it (and they sum to
/// more than 0), else equally; rounded down. `None` when no sub-measure counts.
pub fn derived_progress(parts: &[Part]) -> Option<i32> {
    let counted: Vec<(i128, Option<i64>)> = parts
        .iter()
        .filter(|p| p.status != MeasureStatus::Rejected)
        .map(|p| {
            (
                if p.status == MeasureStatus::Completed { 100 } else { i128::from(p.progress.clamp(0, 100)) },
                p.estimated_cost_eur,
            )
        })
        .collect();
    if counted.is_empty() {
        return None;
    }
    let costs: Option<Vec<i128>> = counted.iter().map(|(_, c)| c.map(|c| i128::from(c.max(0)))).collect();
    let weights = match costs {
        Some(costs) if costs.iter().sum::<i128>() > 0 => costs,
        _ => vec![1; counted.len()],
    };
    let total: i128 = weights.iter().sum();
    let done: i128 = counted.iter().zip(&weights).map(|((p, _), w)| p * w).sum();
    i32::try_from(done / total).ok()
}

/// The annual savings of a measure: `before − after` in whole euros (`None` unless both are
/// known), and in tenths of a percent of `before`, `round(1000 × savings / before)` with halves
/// away from zero (`None` when `before` is 0 or unknown). Exact for every pair of `i64`.
pub fn savings(before: Option<i64>, after: Option<i64>) -> (Option<i64>, Option<i32>) {
    let (Some(before), Some(after)) = (before, after) else { return (None, None) };
    let saved = i128::from(before) - i128::from(after);
    let euros = i64::try_from(saved).ok();
    if before == 0 {
        return (euros, None);
    }
    let (numerator, denominator) = (saved * 1000, i128::from(before));
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    let rounded = if 2 * remainder.abs() >= denominator.abs() {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    };
    (euros, i32::try_from(rounded).ok())
}

#[cfg(test)]
mod tests {
    use super::MeasureStatus::*;
    use super::*;

    #[test]
    fn the_workflow_allows_exactly_the_documented_transitions() {
        let expected: [(MeasureStatus, &[MeasureStatus]); 6] = [
            (Idea, &[Assessed, OnHold, Rejected]),
            (Assessed, &[Planned, OnHold, Rejected]),
            (Planned, &[Approved, OnHold, Rejected]),
            (Approved, &[InProgress, OnHold, Rejected]),
            (InProgress, &[Completed, OnHold, Rejected]),
            (Completed, &[]),
        ];
        for (from, allowed) in expected {
            for to in ALL_STATUSES {
                assert_eq!(from.allowed_next(None).contains(&to), allowed.contains(&to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn on_hold_and_rejected_go_back_only_where_they_came_from() {
        for paused in [OnHold, Rejected] {
            assert_eq!(paused.allowed_next(Some(Planned)), vec![Planned]);
            assert_eq!(paused.allowed_next(Some(InProgress)), vec![InProgress]);
            assert!(paused.allowed_next(None).is_empty());
            assert!(paused.allowed_next(Some(Completed)).is_empty());
        }
    }

    #[test]
    fn progress_adds_up_from_the_sub_measures() {
        let part = |status, progress, cost| Part { status, progress, estimated_cost_eur: cost };
        // Equally, when a cost is missing: (100 + 50 + 0) / 3, rounded down.
        let parts = [part(Completed, 30, Some(10)), part(InProgress, 50, None), part(Idea, 0, Some(10))];
        assert_eq!(derived_progress(&parts), Some(50));
        // By cost, when every counted one has it: (100·1000 + 10·3000) / 4000 = 32.5 → 32.
        let parts = [part(Completed, 100, Some(1000)), part(InProgress, 10, Some(3000)), part(Rejected, 0, None)];
        assert_eq!(derived_progress(&parts), Some(32), "the rejected one is left out, its missing cost too");
        assert_eq!(
            derived_progress(&[part(InProgress, 40, Some(0)), part(Idea, 0, Some(0))]),
            Some(20),
            "costs of 0 weigh equally"
        );
        assert_eq!(derived_progress(&[part(Rejected, 80, Some(5))]), None);
        assert_eq!(derived_progress(&[]), None);
    }

    #[test]
    fn savings_are_before_minus_after_and_a_rounded_share_of_before() {
        assert_eq!(savings(Some(200_000), Some(170_000)), (Some(30_000), Some(150)));
        assert_eq!(savings(Some(3), Some(2)), (Some(1), Some(333)));
        assert_eq!(savings(Some(3), Some(1)), (Some(2), Some(667)));
        assert_eq!(savings(Some(2000), Some(1999)), (Some(1), Some(1)), "0.05 % rounds up to 0.1 %");
        assert_eq!(savings(Some(2000), Some(2001)), (Some(-1), Some(-1)), "halves round away from zero");
        assert_eq!(savings(Some(100), Some(250)), (Some(-150), Some(-1500)), "costs that rise save less than nothing");
        assert_eq!(savings(Some(0), Some(10)), (Some(-10), None));
        assert_eq!(savings(None, Some(10)), (None, None));
        assert_eq!(savings(Some(10), None), (None, None));
        assert_eq!(savings(Some(i64::MAX), Some(0)), (Some(i64::MAX), Some(1000)));
    }

    #[test]
    fn priority_rewards_benefit_and_punishes_cost_and_effort() {
        assert_eq!(priority_score(Some(5), Some(1), Some(1)), Some(100));
        assert_eq!(priority_score(Some(1), Some(5), Some(5)), Some(0));
        assert_eq!(priority_score(Some(3), Some(3), Some(3)), Some(50));
        assert_eq!(priority_score(Some(4), Some(2), Some(3)), Some(68));
        assert!(priority_score(Some(5), Some(2), Some(2)) > priority_score(Some(4), Some(2), Some(2)));
        assert!(priority_score(Some(4), Some(1), Some(2)) > priority_score(Some(4), Some(2), Some(2)));
        assert_eq!(priority_score(Some(5), None, Some(1)), None);
    }
}
