//! envk: a typed environment-description language compiled to Kubernetes,
//! Prometheus and Argo CD manifests. See ARCHITECTURE.md for the map.

pub(crate) mod by_address;
pub mod check;
pub mod cost;
pub mod diag;
pub mod diff;
pub mod driver;
pub mod emit;
pub mod load;
pub mod lsp;
pub mod model;
pub mod output;
pub mod parallel;
pub mod resolve;
pub mod rule_test;
pub mod source;
pub mod stdlib_doc;
pub mod suggest;
pub mod summary;
pub mod syntax;
pub mod timings;

/// Inputs for exhaustive unit tests.
#[cfg(test)]
pub(crate) mod test_inputs {
    /// Every string of at most `longest` characters drawn from `alphabet`.
    pub fn every_string(alphabet: &[char], longest: usize) -> Vec<String> {
        let mut strings = vec![String::new()];
        let mut last = strings.clone();
        for _ in 0..longest {
            last = last
                .iter()
                .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
                .collect();
            strings.extend(last.iter().cloned());
        }
        strings
    }
}
