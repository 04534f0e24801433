//! Helpers shared by kubin's whole-workspace integration tests (`tests/tests/*.rs`).

pub mod deployed;
pub mod kubin;
pub mod lab_checks;
pub mod local_apiserver;
pub mod local_etcd;
