//! The pest parser generated from `grammar/envk.pest`.

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/envk.pest"]
pub(crate) struct EnvkParser;
