// `sqlx::migrate!` reads the migrations while this crate compiles. Cargo
// would not otherwise know to compile it again when one is added, and an
// incremental build would ship a binary without it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
