//! Carrying out a short list of planned steps for the local operator
//! (`muster remove`, `muster maintenance`), each announced and ticked off
//! in the same progress events as `muster init`'s.

use std::future::Future;

use muster_proto::formation::InitEvent;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::shared::Shared;

/// Runs `run` (the command `what`) and sends its end, `Done` or `Failed`:
/// not while `muster init`, `remove` or `maintenance` runs on this server,
/// as each changes the cluster from what it observed.
pub(crate) async fn alone(
    state: &Shared,
    what: &str,
    events: &mpsc::Sender<InitEvent>,
    run: impl Future<Output = Result<String, InitEvent>>,
) {
    let end = match state.init_running.try_lock() {
        Ok(_running) => match run.await {
            Ok(message) => InitEvent::Done { message },
            Err(failure) => failure,
        },
        Err(_) => failed(format!(
            "{what} cannot start: muster init, remove or maintenance is already running on this \
             server"
        )),
    };
    if let InitEvent::Failed { message, .. } = &end {
        tracing::warn!(%message, "{what} failed");
    }
    // The CLI may have gone away; what was done is logged regardless.
    let _ = events.send(end).await;
}

/// The end of a run that stopped before changing anything, or at no
/// particular step.
pub(crate) fn failed(message: String) -> InitEvent {
    InitEvent::Failed {
        message,
        member: None,
        step: None,
    }
}

/// One step as the operator reads it: where it runs and what it does.
pub(crate) struct Shown {
    pub member: String,
    pub description: String,
}

impl Shown {
    /// Announces step `index` (from 1) as it starts.
    pub async fn start(&self, index: usize, events: &mpsc::Sender<InitEvent>) {
        // The CLI may have gone away; the run goes on regardless.
        let _ = events
            .send(InitEvent::Step {
                index,
                member: self.member.clone(),
                description: self.description.clone(),
            })
            .await;
    }

    /// Ticks step `index` off, or ends the run naming the step, its member
    /// and `again`, the command that resumes.
    pub async fn end(
        self,
        index: usize,
        outcome: Result<(), Error>,
        again: &str,
        events: &mpsc::Sender<InitEvent>,
    ) -> Result<(), InitEvent> {
        match outcome {
            Ok(()) => {
                let _ = events.send(InitEvent::StepDone { index }).await;
                Ok(())
            }
            Err(e) => Err(InitEvent::Failed {
                message: format!(
                    "step {index} ({}) failed: {}. Run {again} again to resume",
                    self.description, e.message
                ),
                member: Some(self.member),
                step: Some(self.description),
            }),
        }
    }
}

/// Announces a plan rendered for reading.
pub(crate) async fn announce(events: &mpsc::Sender<InitEvent>, text: String, steps: usize) {
    let _ = events
        .send(InitEvent::Plan {
            text,
            steps,
            builds: Default::default(),
        })
        .await;
}
