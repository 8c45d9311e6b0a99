//! When one upload fails, the uploads still in flight are told to stop and given the chance to
//! give up cleanly (an S3 multipart upload aborts, so the bucket keeps no stray parts), rather
//! than being dropped halfway. The target here is a recorder: it stands in for a store whose
//! one upload is refused while another is long, which a real server cannot be made to do on
//! cue; the S3 client's own abort is tested on the wire (tests/deploy_s3_protocol.rs).

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gatehouse::deploy::{
    self, DeployState, Execution, Headers, ManifestKey, Reporter, Settings, Source, Target,
    TargetError,
};
use gatehouse::gate::MasterSecret;

/// Records what happened to each upload.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl Recorder {
    fn note(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

impl Target for Recorder {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        Ok(None)
    }

    async fn list(&self) -> Result<Vec<String>, TargetError> {
        Ok(Vec::new())
    }

    async fn put(
        &self,
        _key: &str,
        _body: Vec<u8>,
        _sha256: Option<&str>,
        _headers: &Headers,
    ) -> Result<(), TargetError> {
        Ok(())
    }

    async fn put_file(
        &self,
        key: &str,
        _source: &Source<'_>,
        _headers: &Headers,
        stop: &AtomicBool,
    ) -> Result<(), TargetError> {
        if key.ends_with("refused.bin") {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.note(format!("{key} refused"));
            return Err(TargetError::Request {
                what: format!("PUT {key}"),
                detail: "refused by the test".into(),
            });
        }
        if key.ends_with("long.bin") {
            // A long multipart upload: it checks `stop` between its parts.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if stop.load(Ordering::SeqCst) {
                    self.note(format!("{key} abandoned"));
                    return Err(TargetError::Request {
                        what: format!("PUT {key}"),
                        detail: "stopped".into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.note(format!("{key} never told to stop"));
        }
        Ok(())
    }

    async fn delete(&self, _key: &str) -> Result<(), TargetError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_upload_stops_the_others_cleanly_instead_of_dropping_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(gatehouse::build::BUILD_MARKER), "").unwrap();
    std::fs::write(dir.path().join("a-long.bin"), vec![1u8; 1000]).unwrap();
    std::fs::write(dir.path().join("b-refused.bin"), vec![2u8; 1000]).unwrap();
    let local = deploy::scan(dir.path(), &[]).unwrap();
    let plan = deploy::plan(
        &local,
        &DeployState::default(),
        0,
        Settings {
            keep: 0,
            purge: false,
        },
    );
    let target = Recorder::default();
    let stop = AtomicBool::new(false);
    let key = ManifestKey::derive(&MasterSecret::from_bytes([5; 32]));
    let reporter = Reporter::new(false, plan.uploads.len());
    let how = Execution {
        concurrency: 4,
        reporter: &reporter,
        stop: &stop,
        key: &key,
    };
    let outcome = deploy::execute(&target, &plan, &local, &how).await;
    let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("b-refused.bin"),
        "the first failure is the one reported: {error}"
    );
    let events = target.events.lock().unwrap().clone();
    assert_eq!(
        events,
        ["b-refused.bin refused", "a-long.bin abandoned"],
        "the long upload was told to stop and gave up cleanly"
    );
}
