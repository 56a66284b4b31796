//! Batch markers: which records of a segment form complete appends.
//!
//! Every event line carries `batch: [i, n]` (the i-th of the n records one append wrote); a link
//! line is a batch of one. Rules, shared by the open scan (`recovery.rs`) and the survey of a
//! damaged store (`survey.rs`):
//! - Records of a batch follow each other: `[1, n]`, `[2, n]`, ..., `[n, n]`. A batch counts once
//!   its `[n, n]` record is read; the records before it wait.
//! - A *gap* is a place where records were lost: a hole line that `repair` wrote, or (in a survey)
//!   a damaged line. Across a gap the rules give way by exactly what the gap can explain: the open
//!   batch may continue at a later index (its records in between were lost), a new batch may start
//!   at an index above 1 (its first records were lost), and an open batch followed by the start
//!   of another counts as complete (its last records were lost).
//! - Without a gap, a batch that is left open when another starts was interrupted, which no
//!   writer does (a crash leaves the unfinished batch last, and the next open cuts it off): that
//!   is damage. So is any other marker out of sequence.
//! - A batch still open at the end of a segment is unfinished (a torn tail in the last segment),
//!   unless a gap follows its last record.

/// How a record fits the batch rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// The batch open before this record counts as complete (its last records were lost in the
    /// gap before this one): it is to be taken before this record.
    pub closes_previous: bool,
    /// This record completes its batch: every record since the batch began counts now.
    pub completes: bool,
}

/// A record that breaks the batch rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchError {
    /// A new batch starts while the open one still lacks records, with no gap to explain them.
    Interrupted,
    /// The marker fits neither the open batch nor the start of a new one.
    OutOfSequence,
}

impl BatchError {
    /// The reason, for a damage report.
    pub fn reason(self, i: u32, n: u32) -> String {
        match self {
            BatchError::Interrupted => format!(
                "batch marker [{i},{n}] starts an append while the one before it is unfinished"
            ),
            BatchError::OutOfSequence => format!("batch marker [{i},{n}] out of sequence"),
        }
    }
}

/// How a segment ended, batch-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Every batch is complete.
    Clean,
    /// The last batch was open but a gap follows its last record: it counts as complete.
    ClosedByGap,
    /// The last batch lacks records: an append cut short.
    Unfinished,
}

/// Follows the batch markers of one segment's records (see the module docs).
#[derive(Debug, Default, Clone)]
pub(crate) struct BatchTracker {
    /// The open batch: the next index expected and the batch size.
    open: Option<(u32, u32)>,
    /// A gap came after the last record.
    gap: bool,
}

impl BatchTracker {
    /// Records a gap (a hole line, or a damaged line) at this point.
    pub fn gap(&mut self) {
        self.gap = true;
    }

    /// Whether a batch is open (some of its records read, its last one not yet).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Takes the next record, the `i`-th of a batch of `n`.
    ///
    /// # Errors
    ///
    /// The rule it breaks; the tracker is then as it was, but for the gap, which is used up.
    pub fn record(&mut self, i: u32, n: u32) -> Result<Step, BatchError> {
        let gap = std::mem::take(&mut self.gap);
        if i == 0 || i > n {
            return Err(BatchError::OutOfSequence);
        }
        let mut closes_previous = false;
        match self.open {
            Some((next, total)) if n == total && (i == next || (gap && i > next)) => {}
            Some(_) if gap => closes_previous = true,
            Some(_) if i == 1 => return Err(BatchError::Interrupted),
            Some(_) => return Err(BatchError::OutOfSequence),
            None if i == 1 || gap => {}
            None => return Err(BatchError::OutOfSequence),
        }
        let completes = i == n;
        self.open = (!completes).then_some((i + 1, n));
        Ok(Step {
            closes_previous,
            completes,
        })
    }

    /// How the segment ends; the tracker is reset for the next one.
    pub fn finish(&mut self) -> End {
        let gap = std::mem::take(&mut self.gap);
        match self.open.take() {
            None => End::Clean,
            Some(_) if gap => End::ClosedByGap,
            Some(_) => End::Unfinished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PENDING: Step = Step {
        closes_previous: false,
        completes: false,
    };
    const DONE: Step = Step {
        closes_previous: false,
        completes: true,
    };

    #[test]
    fn batches_in_sequence_complete_at_their_last_record() {
        let mut t = BatchTracker::default();
        assert_eq!(t.record(1, 1), Ok(DONE));
        assert_eq!(t.record(1, 3), Ok(PENDING));
        assert_eq!(t.record(2, 3), Ok(PENDING));
        assert!(t.is_open());
        assert_eq!(t.record(3, 3), Ok(DONE));
        assert_eq!(t.finish(), End::Clean);
    }

    #[test]
    fn without_a_gap_breaks_are_errors_and_leave_the_batch_open() {
        let mut t = BatchTracker::default();
        assert_eq!(t.record(2, 3), Err(BatchError::OutOfSequence));
        assert_eq!(t.record(1, 3), Ok(PENDING));
        assert_eq!(t.record(1, 2), Err(BatchError::Interrupted));
        assert_eq!(t.record(3, 3), Err(BatchError::OutOfSequence));
        assert_eq!(t.record(2, 4), Err(BatchError::OutOfSequence));
        assert_eq!(t.finish(), End::Unfinished);
        assert_eq!(t.record(0, 1), Err(BatchError::OutOfSequence));
        assert_eq!(t.record(3, 2), Err(BatchError::OutOfSequence));
    }

    #[test]
    fn a_gap_explains_lost_records_at_the_start_middle_and_end() {
        let mut t = BatchTracker::default();
        t.gap();
        assert_eq!(t.record(2, 3), Ok(PENDING), "the first record was lost");
        t.gap();
        assert_eq!(
            t.record(1, 2),
            Ok(Step {
                closes_previous: true,
                completes: false
            })
        );
        t.gap();
        assert_eq!(t.finish(), End::ClosedByGap, "the last record was lost");
        assert_eq!(t.record(1, 4), Ok(PENDING));
        t.gap();
        assert_eq!(t.record(4, 4), Ok(DONE), "records 2 and 3 were lost");
        t.gap();
        assert_eq!(
            t.record(1, 1),
            Ok(DONE),
            "a gap between batches changes nothing"
        );
        assert_eq!(t.finish(), End::Clean);
    }
}
