//! A preseed file (`muster init --preseed FILE`): parsed, and when it parses
//! resolved against the unit tests' three-server inventory, fresh and half
//! formed, then planned against that inventory's observed state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_plan::Plan;
use muster_preseed::fixtures::{example_inventory_with_nvme, resumed_inventory};
use muster_preseed::{parse, resolve, Inventory};
use std::sync::LazyLock;

static INVENTORIES: LazyLock<[Inventory; 2]> =
    LazyLock::new(|| [example_inventory_with_nvme(), resumed_inventory()]);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let preseed = match parse(text) {
        Ok(preseed) => preseed,
        Err(errors) => {
            // Every refusal says why.
            assert!(!errors.messages().is_empty());
            return;
        }
    };
    let _ = preseed.session();
    for inventory in INVENTORIES.iter() {
        let resolved = match resolve(&preseed, inventory) {
            Ok(resolved) => resolved,
            Err(errors) => {
                assert!(!errors.messages().is_empty());
                continue;
            }
        };
        if let Ok(plan) = muster_plan::plan(&resolved.choices, &inventory.observed) {
            let _ = plan.render();
            // The plan travels as JSON to the CLI's `--dry-run` output.
            let json = serde_json::to_string(&plan).expect("a plan serializes");
            let back: Plan = serde_json::from_str(&json).expect("a plan reads back");
            assert_eq!(back, plan);
        }
    }
});
