//! envk: a typed environment-description language compiled to Kubernetes,
//! Prometheus and Argo CD manifests. See ARCHITECTURE.md for the map.

pub mod check;
pub mod diag;
pub mod driver;
pub mod emit;
pub mod model;
pub mod output;
pub mod parallel;
pub mod resolve;
pub mod source;
pub mod suggest;
pub mod syntax;
pub mod timings;
