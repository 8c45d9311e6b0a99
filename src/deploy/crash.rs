//! Cutting a deploy at an exact point, for the tests that prove a deploy ended anywhere leaves
//! the live site whole. In debug builds only, `GATEHOUSE_DEPLOY_CRASH_AFTER=<stage>:<n>` (stage
//! `assets`, `pages`, `lists`, `deletes`, or `manifest` for the deploy manifest's own writes)
//! SIGKILLs the process the moment the n-th write of that stage is done: no cleanup, nothing
//! more written, other writes cut off mid-way. Release builds have no such variable.

#[cfg(debug_assertions)]
mod point {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CrashPoint {
        stage: String,
        after: usize,
        seen: AtomicUsize,
    }

    fn crash_point() -> Option<&'static CrashPoint> {
        static POINT: OnceLock<Option<CrashPoint>> = OnceLock::new();
        POINT
            .get_or_init(|| {
                let value = std::env::var("GATEHOUSE_DEPLOY_CRASH_AFTER").ok()?;
                let (stage, after) = value.split_once(':')?;
                Some(CrashPoint {
                    stage: stage.to_owned(),
                    after: after.parse().ok()?,
                    seen: AtomicUsize::new(0),
                })
            })
            .as_ref()
    }

    pub fn wrote(stage: &str) {
        let Some(point) = crash_point() else { return };
        if point.stage == stage && point.seen.fetch_add(1, Ordering::SeqCst) + 1 == point.after {
            eprintln!(
                "deploy: crashing on purpose after write {} of {stage}",
                point.after
            );
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            // Only if `kill` could not be run.
            std::process::abort();
        }
    }
}

/// One write of `stage` is done.
#[cfg(debug_assertions)]
pub fn wrote(stage: &str) {
    point::wrote(stage);
}

#[cfg(not(debug_assertions))]
pub fn wrote(_stage: &str) {}
