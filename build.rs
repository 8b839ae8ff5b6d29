//! The schemas under `schemas/` are built into the binary (include_dir); rebuild when any of
//! them changes, since a proc macro cannot tell cargo which files it read.
fn main() {
    println!("cargo:rerun-if-changed=schemas");
}
