//! The plan of `muster maintenance NAME on|off`: LXD evacuates the member
//! (its instances move, or stop where they cannot) and Ceph keeps its OSDs
//! in while they are down; `off` undoes both. Pure: no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::removal::InstanceObserved;

/// What maintenance needs to know, read just before planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceObserved {
    pub target: String,
    /// The LXD cluster's members and their status ("Online", "Evacuated"...).
    pub lxd_members: BTreeMap<String, String>,
    /// The target's instances.
    pub instances: Vec<InstanceObserved>,
    /// `None` when there is no Ceph cluster; else whether the target is a
    /// CRUSH host and whether `noout` is set on it.
    pub ceph: Option<CephMaintenanceObserved>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CephMaintenanceObserved {
    pub host: bool,
    pub noout: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum MaintenanceStep {
    /// Ceph: `noout` on the member's CRUSH host (first, so that nothing
    /// is taken out while the member goes down).
    CephNoout,
    /// LXD: evacuate the member: each instance moves to another member
    /// or stops there, as its `cluster.evacuate` says (LXD 5.0 copies an
    /// instance on local storage to another member).
    Evacuate { instances: Vec<String> },
    /// LXD: restore the member (instances come back and start).
    Restore,
    /// Ceph: clear `noout` (last, once the member is back).
    CephClearNoout,
}

impl MaintenanceStep {
    pub fn describe(&self, target: &str) -> String {
        match self {
            MaintenanceStep::CephNoout => {
                format!("Keep {target}'s OSDs in Ceph while it is down (noout)")
            }
            MaintenanceStep::Evacuate { instances } if instances.is_empty() => {
                format!("Evacuate {target} (it has no instances)")
            }
            MaintenanceStep::Evacuate { instances } => format!(
                "Evacuate {target}: LXD moves {} to other members, or stops {} (its \
                 cluster.evacuate setting says which)",
                instances.join(", "),
                if instances.len() == 1 { "it" } else { "them" }
            ),
            MaintenanceStep::Restore => {
                format!("Restore {target}: its instances come back and start")
            }
            MaintenanceStep::CephClearNoout => format!("Let Ceph take {target}'s OSDs out again"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenancePlan {
    pub target: String,
    pub on: bool,
    pub steps: Vec<MaintenanceStep>,
}

impl MaintenancePlan {
    pub fn render(&self) -> String {
        let mut out = format!(
            "Plan: maintenance {} {} ({} step{})\n",
            self.target,
            if self.on { "on" } else { "off" },
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" }
        );
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {:>2}. {}\n",
                i + 1,
                step.describe(&self.target)
            ));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintenanceRefusal {
    #[error("{0} is not a member of this LXD cluster (`muster status` lists the members)")]
    NotAMember(String),
    #[error(
        "{0} is {1}: LXD can only evacuate a member that answers; a dead member is removed \
         instead (muster remove {0} --force)"
    )]
    NotOnline(String, String),
    #[error("{0} is not in maintenance: nothing to turn off")]
    NotInMaintenance(String),
}

/// The steps that turn maintenance of `obs.target` on (or off); empty
/// when it is so already (on), or the reason it cannot be done.
pub fn plan_maintenance(
    obs: &MaintenanceObserved,
    on: bool,
) -> Result<MaintenancePlan, MaintenanceRefusal> {
    let target = obs.target.as_str();
    let Some(status) = obs.lxd_members.get(target) else {
        return Err(MaintenanceRefusal::NotAMember(target.to_owned()));
    };
    let evacuated = status == "Evacuated";
    let ceph_host = obs.ceph.filter(|c| c.host);
    let noout = ceph_host.is_some_and(|c| c.noout);
    let mut steps = Vec::new();
    if on {
        if ceph_host.is_some() && !noout {
            steps.push(MaintenanceStep::CephNoout);
        }
        if !evacuated {
            if status != "Online" {
                return Err(MaintenanceRefusal::NotOnline(
                    target.to_owned(),
                    status.to_lowercase(),
                ));
            }
            steps.push(MaintenanceStep::Evacuate {
                instances: obs.instances.iter().map(ToString::to_string).collect(),
            });
        }
    } else {
        if !evacuated && !noout {
            return Err(MaintenanceRefusal::NotInMaintenance(target.to_owned()));
        }
        if evacuated {
            steps.push(MaintenanceStep::Restore);
        }
        if noout {
            steps.push(MaintenanceStep::CephClearNoout);
        }
    }
    Ok(MaintenancePlan {
        target: target.to_owned(),
        on,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(s3: &str, ceph: Option<CephMaintenanceObserved>) -> MaintenanceObserved {
        MaintenanceObserved {
            target: "s3".into(),
            lxd_members: [("s1", "Online"), ("s2", "Online"), ("s3", s3)]
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
            instances: crate::removal::web_on_local_and_db_on_remote(),
            ceph,
        }
    }

    const HOST: Option<CephMaintenanceObserved> = Some(CephMaintenanceObserved {
        host: true,
        noout: false,
    });
    const HOST_NOOUT: Option<CephMaintenanceObserved> = Some(CephMaintenanceObserved {
        host: true,
        noout: true,
    });

    #[test]
    fn on_sets_noout_first_then_evacuates_naming_the_instances() {
        let plan = plan_maintenance(&cluster("Online", HOST), true).unwrap();
        assert_eq!(
            plan.steps,
            [
                MaintenanceStep::CephNoout,
                MaintenanceStep::Evacuate {
                    instances: vec!["web".into(), "db".into()]
                }
            ]
        );
        assert!(plan
            .render()
            .contains("Evacuate s3: LXD moves web, db to other members"));
    }

    #[test]
    fn without_ceph_or_osds_only_lxd_is_asked() {
        for ceph in [None, Some(CephMaintenanceObserved::default())] {
            let plan = plan_maintenance(&cluster("Online", ceph), true).unwrap();
            assert!(matches!(plan.steps[..], [MaintenanceStep::Evacuate { .. }]));
        }
    }

    #[test]
    fn on_twice_has_nothing_to_do_and_a_half_done_on_finishes() {
        assert!(plan_maintenance(&cluster("Evacuated", HOST_NOOUT), true)
            .unwrap()
            .steps
            .is_empty());
        let plan = plan_maintenance(&cluster("Evacuated", HOST), true).unwrap();
        assert_eq!(plan.steps, [MaintenanceStep::CephNoout]);
        let plan = plan_maintenance(&cluster("Online", HOST_NOOUT), true).unwrap();
        assert!(matches!(plan.steps[..], [MaintenanceStep::Evacuate { .. }]));
    }

    #[test]
    fn off_restores_then_clears_noout() {
        let plan = plan_maintenance(&cluster("Evacuated", HOST_NOOUT), false).unwrap();
        assert_eq!(
            plan.steps,
            [MaintenanceStep::Restore, MaintenanceStep::CephClearNoout]
        );
    }

    #[test]
    fn off_on_a_member_not_in_maintenance_is_refused() {
        assert_eq!(
            plan_maintenance(&cluster("Online", HOST), false),
            Err(MaintenanceRefusal::NotInMaintenance("s3".into()))
        );
    }

    #[test]
    fn a_stranger_or_an_offline_member_is_refused() {
        let mut obs = cluster("Online", None);
        obs.target = "s9".into();
        assert_eq!(
            plan_maintenance(&obs, true),
            Err(MaintenanceRefusal::NotAMember("s9".into()))
        );
        let refused = plan_maintenance(&cluster("Offline", None), true).unwrap_err();
        assert!(refused.to_string().contains("muster remove s3 --force"));
    }
}
