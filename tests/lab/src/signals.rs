//! Tears down every live lab of this process when it is told to stop
//! (SIGINT, SIGTERM, SIGHUP), then exits with 128 + the signal number.

use std::sync::{Arc, Mutex, Once, Weak};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::lab::Shared;

static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

fn live() -> std::sync::MutexGuard<'static, Vec<Weak<Shared>>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn register(lab: &Arc<Shared>) {
    HANDLER.call_once(start_handler);
    live().push(Arc::downgrade(lab));
}

pub(crate) fn unregister(lab: &Arc<Shared>) {
    let target = Arc::downgrade(lab);
    live().retain(|w| !w.ptr_eq(&target) && w.strong_count() > 0);
}

fn start_handler() {
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("muster-lab: cannot handle signals ({e}): a lab is then torn down only when dropped");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("muster-lab-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let labs: Vec<Arc<Shared>> = live().iter().filter_map(Weak::upgrade).collect();
                for lab in labs {
                    if let Err(e) = lab.teardown() {
                        eprintln!("muster-lab: {e}");
                    }
                }
                std::process::exit(128 + sig);
            }
        });
    if let Err(e) = spawned {
        eprintln!("muster-lab: cannot start the signal thread ({e}): a lab is then torn down only when dropped");
    }
}
