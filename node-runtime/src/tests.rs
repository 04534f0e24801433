//! Helpers shared by the crate's tests.

use inventory::Inventory;
use inventory::example::GUIDES_EXAMPLE;

/// The guides' example inventory with text replacements applied.
pub(crate) fn inv(edit: &[(&str, &str)]) -> Inventory {
    let mut text = GUIDES_EXAMPLE.to_string();
    for (from, to) in edit {
        assert!(text.contains(from), "the example has no {from:?}");
        text = text.replace(from, to);
    }
    Inventory::from_yaml(&text, "test")
        .expect("valid inventory")
        .0
}
