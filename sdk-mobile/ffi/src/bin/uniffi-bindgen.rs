//! UniFFI's binding generator, built from the same uniffi version as the library, so the generated
//! Kotlin and Swift always match its scaffolding. Run by sdk-mobile/scripts/generate-bindings.sh.

fn main() {
    uniffi::uniffi_bindgen_main()
}
