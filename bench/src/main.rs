//! `nodebus-bench`: the load generator (being written).

fn main() {}
