//! The plan as `muster init --dry-run` prints it.

use std::fmt::Write;

use crate::plan::Plan;

impl Plan {
    /// Steps grouped under the member they change, numbered in the order
    /// they run (so the numbers of one member need not be consecutive),
    /// then the warnings.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("Nothing to do: the cluster is formed as chosen.\n");
        } else {
            let _ = writeln!(
                out,
                "Plan: {} step{} on {} member{} (initiator {})",
                self.steps.len(),
                plural(self.steps.len()),
                self.members.len(),
                plural(self.members.len()),
                self.initiator
            );
            let width = self.steps.len().to_string().len();
            for (name, address) in &self.members {
                let role = if *name == self.initiator {
                    ", initiator"
                } else {
                    ""
                };
                let build = self
                    .builds
                    .get(name)
                    .map(|b| format!(", {b}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "\n{name} ({address}{role}{build})");
                let mut any = false;
                for (i, step) in self.steps.iter().enumerate() {
                    if step.member == *name {
                        any = true;
                        let _ = writeln!(out, "  {:>width$}. {}", i + 1, step.description);
                    }
                }
                if !any {
                    let _ = writeln!(out, "  {:>width$}  nothing to do", "");
                }
            }
        }
        if !self.warnings.is_empty() {
            out.push('\n');
            for w in &self.warnings {
                let _ = writeln!(out, "warning: {w}");
            }
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
